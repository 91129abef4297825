"""Peak memory and per-stage time of compress and decompress against image size.

    python benchmarks/large_images.py --config n128 --sizes 0.4,2,6,12,24 \\
        --out results/large_images/n128.json

Each size gets a 3:2 photo made by resizing a Kodak image (written under ``--scratch``,
never into the repository), and each compress and each decompress runs in a fresh
process that reports its own peak resident memory (the high-water mark ``VmHWM``, per
codec stage and overall), its wall time and the codec's stage times. Both processes read
and write files as the CLI does, ``--repeat`` times; the times are the last run's (the
first includes compilation), the peak covers all runs. Besides wall time, each run's
CPU seconds (all threads) are recorded: on a machine shared with other jobs they measure
the work better than the wall clock. The model is an untrained one of ``--config``
(every channel coded, the slow case), saved once so that all processes share it. The
processes get the allocator the ``jaxlic`` command chooses (``jaxlic.cli.allocator``);
``--system-allocator`` keeps glibc's.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak" / "kodim23.png"


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class StagePeaks:
    """Peak resident memory of each codec stage, as a ``progress(stage, fraction)``
    callback: when a stage reports that it is done, the process's high-water mark
    (``VmHWM``) is that stage's peak (with whatever ran since the previous stage ended),
    and it is reset for the next (``/proc/self/clear_refs``, Linux)."""

    def __init__(self) -> None:
        self.gib: dict[str, float] = {}
        self._reset()

    @staticmethod
    def _high_water_gib() -> float:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 2**20

    @staticmethod
    def _reset() -> None:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")

    def __call__(self, stage: str, fraction: float) -> None:
        if fraction >= 1.0:
            self.gib[stage] = max(self.gib.get(stage, 0.0), self._high_water_gib())
            self._reset()

    def rest(self, name: str) -> None:
        """Record what ran after the last stage (file writing) as ``name``."""
        self(name, 1.0)


def _child(argv: list[str]) -> dict:
    """Run one compress or decompress ``repeat`` times in this process (the first run
    includes compilation); return the measurements."""
    sys.path.insert(0, str(ROOT))
    from jaxlic.cli.common import enable_compile_cache
    from jaxlic.coding import Codec
    from jaxlic.images import read_image, write_image

    enable_compile_cache()
    action, weights, source, target, repeat = argv
    codec = Codec.load(weights)
    walls = []
    peaks = StagePeaks()
    for _ in range(int(repeat)):
        timings: dict[str, float] = {}
        cpu = _cpu_seconds()
        start = time.perf_counter()
        if action == "compress":
            image = read_image(source, max_pixels=None)
            timings["read"] = time.perf_counter() - start
            data = codec.compress(image, timings, progress=peaks)
            pathlib.Path(target).write_bytes(data)
        else:
            data = pathlib.Path(source).read_bytes()
            image = codec.decompress(data, timings, max_pixels=1 << 28, progress=peaks)
            write = time.perf_counter()
            write_image(target, image)
            timings["write"] = time.perf_counter() - write
        peaks.rest("write")
        walls.append(time.perf_counter() - start)
        cpu = _cpu_seconds() - cpu
    return {"action": action, "pixels": image.shape[0] * image.shape[1], "bytes": len(data),
            "first_wall_s": walls[0], "wall_s": walls[-1], "cpu_s": cpu,
            "peak_rss_gib": max(peaks.gib.values()), "stage_peak_gib": peaks.gib,
            "stages_s": timings}


def _image(megapixels: float, scratch: pathlib.Path) -> pathlib.Path:
    """A 3:2 landscape PNG of about ``megapixels`` (Kodak resized with Lanczos)."""
    from PIL import Image

    width = int(round((megapixels * 1e6 * 1.5) ** 0.5 / 16)) * 16
    height = int(round(width / 1.5 / 16)) * 16
    path = scratch / f"photo_{width}x{height}.png"
    if not path.exists():
        with Image.open(KODAK) as img:
            img.convert("RGB").resize((width, height), Image.LANCZOS).save(path)
    return path


def _run_child(action: str, weights: pathlib.Path, source: pathlib.Path,
               target: pathlib.Path, repeat: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", action, str(weights),
                          str(source), str(target), str(repeat)], check=True,
                         capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--config", default="n128", help="untrained model preset")
    parser.add_argument("--sizes", default="0.4,2,6,12,24", help="megapixels, comma-separated")
    parser.add_argument("--scratch", default="/tmp/jaxlic_large", help="images and files")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs per process; times are the last run's, the first "
                             "includes compilation (first_wall_s)")
    parser.add_argument("--system-allocator", action="store_true",
                        help="keep glibc's malloc instead of the command's choice")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)), flush=True)
        return
    sys.path.insert(0, str(ROOT))
    from jaxlic import Codec, ModelConfig
    from jaxlic.cli import allocator

    if args.system_allocator:
        env = {**{k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES")},
               allocator.CHOICE: "system"}
    else:
        env = {**os.environ, **(allocator.fast_allocator_env(os.environ) or {})}
    print(f"allocator: {env.get(allocator.CHOICE, 'system')}", flush=True)
    scratch = pathlib.Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    weights = scratch / f"untrained_{args.config}.npz"
    if not weights.exists():
        Codec.random(ModelConfig.preset(args.config), seed=0).save(weights)
    images = [_image(float(mp), scratch) for mp in args.sizes.split(",")]
    rows = []
    for source in images:
        stream = source.with_suffix(".jlic")
        decoded = source.with_name(source.stem + "_decoded.png")
        for action, src, dst in (("compress", source, stream), ("decompress", stream, decoded)):
            row = _run_child(action, weights, src, dst, args.repeat, env)
            rows.append({"config": args.config, "image": source.name,
                         "allocator": env.get(allocator.CHOICE, "system"), **row})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'image':>22} {'MP':>6} {'action':>10} {'first s':>8} {'wall s':>8} "
          f"{'us/pixel':>9} {'CPU us/px':>9} {'peak GiB':>9}  stages (s / peak GiB)")
    for r in rows:
        peaks = r["stage_peak_gib"]
        stages = ", ".join(f"{k} {v:.2f}" + (f"/{peaks[k]:.2f}" if k in peaks else "")
                           for k, v in r["stages_s"].items())
        print(f"{r['image']:>22} {r['pixels'] / 1e6:6.2f} {r['action']:>10} "
              f"{r['first_wall_s']:8.2f} {r['wall_s']:8.2f} "
              f"{1e6 * r['wall_s'] / r['pixels']:9.3f} {1e6 * r['cpu_s'] / r['pixels']:9.3f} "
              f"{r['peak_rss_gib']:9.2f}  {stages}")
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

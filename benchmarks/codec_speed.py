"""Per-stage encode and decode times with real bitstreams, optionally beside CompressAI.

    python benchmarks/codec_speed.py --config n128 --repeat 5
    python benchmarks/codec_speed.py --config n128 --images kodim01,kodim05,kodim23 \\
        --compare-compressai --torch-python /work/torchvenv/bin/python

jaxlic: an untrained model of ``--config`` (or ``--weights``), every image coded once
untimed (compilation), then ``--repeat`` times; the median of each stage and of the
totals is reported. CompressAI: ``cheng2020-attn`` at quality 3 (N = 128), untrained,
``update(force=True)``, its own ``compress``/``decompress`` (range coder, serial context
loop), timed the same way in a separate process (possibly another virtualenv: it is a
comparison tool, not a dependency), with g_a and g_s timed apart. Both use the machine's
cores as they find them (XLA and PyTorch each use all of them). The last lines are the
ratios jaxlic / CompressAI of the median encode and decode times.

Timings depend on the latent statistics (the alphabet radius and how many channels are
coded): with untrained weights every channel is coded, which is the slow case.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
ENCODE_STAGES = ("analysis", "z_coding", "hyper_synthesis", "y_coding")
DECODE_STAGES = ("z_coding", "hyper_synthesis", "y_coding", "synthesis")


def _medians(fn, repeat: int) -> tuple[dict[str, float], float]:
    """Median stage times and median total of ``repeat`` calls of ``fn(timings)``."""
    stages: dict[str, list[float]] = {}
    totals = []
    for _ in range(repeat):
        timings: dict[str, float] = {}
        start = time.perf_counter()
        fn(timings)
        totals.append(time.perf_counter() - start)
        for k, v in timings.items():
            stages.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in stages.items()}, statistics.median(totals)


def _images(args: argparse.Namespace) -> list[pathlib.Path]:
    return [pathlib.Path(args.kodak) / f"{name}.png" for name in args.images.split(",")]


def bench_jaxlic(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    import jax

    from jaxlic import Codec, ModelConfig
    from jaxlic.coding import bitstream
    from jaxlic.images import read_image

    codec = (Codec.load(args.weights) if args.weights
             else Codec.random(ModelConfig.preset(args.config), seed=0))
    rows = []
    for path in _images(args):
        image = read_image(path)
        start = time.perf_counter()
        data = codec.compress(image)
        codec.decompress(data)
        warmup = time.perf_counter() - start
        header = bitstream.unpack(data)[0]
        enc, enc_total = _medians(lambda t: codec.compress(image, t), args.repeat)
        dec, dec_total = _medians(lambda t: codec.decompress(data, t), args.repeat)
        rows.append({"image": path.stem, "bytes": len(data), "radius": header.radius,
                     "coded": int(header.coded.sum()), "first_s": warmup,
                     "encode_s": enc_total, "decode_s": dec_total,
                     "encode_stages_s": enc, "decode_stages_s": dec})
    return {"framework": "jaxlic", "model": args.weights or f"untrained {args.config}",
            "device": f"{jax.devices()[0].device_kind} ({jax.default_backend()})", "rows": rows}


def bench_compressai(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from compressai.zoo import cheng2020_attn
    from PIL import Image

    torch.manual_seed(0)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    # Qualities 1-3 are CompressAI's N=128 variants (4-6 use N=192).
    model = cheng2020_attn(quality=3, pretrained=False).eval()
    model.update(force=True)
    rows = []
    with torch.no_grad():
        for path in _images(args):
            pixels = np.array(Image.open(path).convert("RGB"))
            # NCHW float32 in contiguous memory (a strided view corrupts its coder).
            x = (torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0).contiguous()
            out = model.compress(x)
            model.decompress(out["strings"], out["shape"])
            y_hat = torch.round(model.g_a(x))
            encode = _median_time(lambda: model.compress(x), args.repeat)
            decode = _median_time(lambda: model.decompress(out["strings"], out["shape"]),
                                  args.repeat)
            g_a = _median_time(lambda: model.g_a(x), args.repeat)
            g_s = _median_time(lambda: model.g_s(y_hat), args.repeat)
            rows.append({"image": path.stem,
                         "bytes": sum(len(s[0]) for s in out["strings"]),
                         "encode_s": encode, "decode_s": decode,
                         "encode_stages_s": {"g_a": g_a, "rest": encode - g_a},
                         "decode_stages_s": {"rest": decode - g_s, "g_s": g_s}})
    return {"framework": f"compressai (torch {torch.__version__})",
            "model": "cheng2020-attn q3 (N=128), untrained",
            "device": f"cpu, {torch.get_num_threads()} threads", "rows": rows}


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _summary(result: dict) -> tuple[float, float]:
    """Medians over images of the encode and decode times."""
    rows = result["rows"]
    return (statistics.median(r["encode_s"] for r in rows),
            statistics.median(r["decode_s"] for r in rows))


def _print(result: dict) -> None:
    print(f"\n{result['framework']}: {result['model']} on {result['device']}")
    for r in result["rows"]:
        enc = ", ".join(f"{k} {v:.3f}" for k, v in r["encode_stages_s"].items())
        dec = ", ".join(f"{k} {v:.3f}" for k, v in r["decode_stages_s"].items())
        print(f"  {r['image']}: {r['bytes']} bytes; encode {r['encode_s']:.3f} s ({enc}); "
              f"decode {r['decode_s']:.3f} s ({dec})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=["jaxlic", "compressai"], default="jaxlic")
    parser.add_argument("--compare-compressai", action="store_true",
                        help="also time CompressAI's cheng2020-attn (needs torch + compressai)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="Python with torch and compressai installed")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="PyTorch threads for CompressAI (default: its own choice, "
                             "all cores; its serial context loop stalls with 2 threads when "
                             "other jobs share the cores)")
    parser.add_argument("--kodak", default=str(KODAK), help="folder of the Kodak images")
    parser.add_argument("--images", default="kodim23", help="Kodak image names, comma-separated")
    parser.add_argument("--weights", help="weights file (default: untrained --config model)")
    parser.add_argument("--config", default="n128")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.framework == "compressai":
        print(json.dumps(bench_compressai(args)), flush=True)
        return
    results = [bench_jaxlic(args)]
    if args.compare_compressai:
        out = subprocess.run([args.torch_python, os.path.abspath(__file__),
                              "--framework=compressai", f"--kodak={args.kodak}",
                              f"--images={args.images}",
                              f"--torch-threads={args.torch_threads}",
                              f"--repeat={args.repeat}"],
                             check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    for result in results:
        _print(result)
    if len(results) == 2:
        (enc, dec), (ref_enc, ref_dec) = _summary(results[0]), _summary(results[1])
        print(f"\nmedian encode {enc:.3f} s vs {ref_enc:.3f} s: {enc / ref_enc:.2f} x CompressAI "
              "(target 0.75)")
        print(f"median decode {dec:.3f} s vs {ref_dec:.3f} s: {dec / ref_dec:.2f} x CompressAI "
              "(target 0.25)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

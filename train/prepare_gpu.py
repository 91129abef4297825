"""Prepare the files one accelerator run carries: ``python -m train.prepare_gpu [...]``.

Fills (all git-ignored):
  .gpu/data/     a subset of the training images, as many as fit the size budget
  .gpu/val/      a few validation images for the estimate printed at the end
  .gpu/weights/  the weights to continue from (a file or its .partNNN pieces), if given
  .whl/          wheels of what the accelerator image lacks (constriction), for Python 3.12
Then run ``bash train/gpu_run.sh`` there with ``carry: [".gpu", ".whl"]`` (docs/gpu_training.md).
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys

from jaxlic.images import list_images

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WHEELS = ("constriction==0.5.0",)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64")


def _size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", default=str(SHARED / "bsds500"))
    p.add_argument("--val", default=str(SHARED / "kodak"))
    p.add_argument("--val_images", type=int, default=4)
    p.add_argument("--resume", help="weights file or pieces prefix to continue from")
    p.add_argument("--budget_mib", type=float, default=60.0,
                   help="total size of what travels (repository included)")
    args = p.parse_args(argv)

    gpu = ROOT / ".gpu"
    shutil.rmtree(gpu, ignore_errors=True)
    for sub in ("data", "val", "weights"):
        (gpu / sub).mkdir(parents=True)
    if args.resume:
        resume = pathlib.Path(args.resume)
        pieces = [resume] if resume.exists() else sorted(resume.parent.glob(resume.name + ".part*"))
        if not pieces:
            sys.exit(f"no weights at {resume}")
        for piece in pieces:
            shutil.copy(piece, gpu / "weights" / piece.name)
    for path in list_images(args.val)[: args.val_images]:
        shutil.copy(path, gpu / "val" / path.name)
    wheels = ROOT / ".whl"
    wheels.mkdir(exist_ok=True)
    for spec in WHEELS:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--python-version", "3.12",
                        "--implementation", "cp", *[f"--platform={x}" for x in PLATFORMS],
                        "-d", str(wheels), spec], check=True)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.split(b"\0")
    used = sum((ROOT / f.decode()).stat().st_size for f in tracked if f and (ROOT / f.decode()).is_file())
    used += _size(gpu) + _size(wheels)
    budget = int(args.budget_mib * 2**20)
    copied = 0
    for path in list_images(args.train):
        size = path.stat().st_size
        if used + size > budget:
            break
        shutil.copy(path, gpu / "data" / f"{copied:05d}{path.suffix.lower()}")
        used += size
        copied += 1
    print(f"{copied} training images, {len(list(gpu.glob('val/*')))} validation images, "
          f"{len(list(gpu.glob('weights/*')))} weight pieces; {used / 2**20:.1f} MiB will travel")


if __name__ == "__main__":
    main()

"""Prepare the bundle one GPU lease carries: ``python -m train.prepare_gpu --run DIR``.

Fills (all git-ignored; sent with ``carry: [".gpu", ".whl"]``, docs/gpu_training.md):
  .gpu/run/          the run to continue: the last checkpoint of ``--run`` (a training
                     workdir, e.g. the CPU run's; float32 parameters, optimiser state, step,
                     not the moving average of the parameters, which the lease restarts)
                     and the metrics line that carries its CPU hours
  .gpu/weights.npz   or, with ``--weights``, a weights file to start from (fresh optimiser)
  .gpu/val/          a few validation images
  .gpu/data/         training images, as many as the size budget leaves room for
  .whl/              wheels of what the GPU image lacks, for Python 3.12
Everything that travels (the repository's files included) stays under ``--budget_mib``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys

from jaxlic.images import list_images
from jaxlic.training import TrainState
from train.checkpoint import Checkpointer, checkpoint_dir
from train.metrics_writer import copy_metrics

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# The GPU image has jax, flax, optax, orbax, absl, tqdm, pyyaml and protobuf, not these.
WHEELS = ("constriction==0.5.0", "grain==0.2.18", "array_record==0.8.6", "portpicker==1.6.0",
          "ml_collections==1.1.0", "tensorboardX==2.6.5")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def size(path: pathlib.Path) -> int:
    """Bytes of the file, or of all files under the folder (0 if absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def copy_checkpoint(run: str | os.PathLike, into: str | os.PathLike,
                    step: int | None = None, average: bool = True) -> int:
    """Copy checkpoint ``step`` (default: the last complete one) of workdir ``run`` into
    workdir ``into``, with ``run``'s last training metrics line up to that step (its
    cumulative CPU hours); return the step. ``average=False`` leaves out the moving
    average of the parameters, if any (a quarter of the checkpoint at N = 64)."""
    checkpointer = Checkpointer(run, read_only=True)
    try:
        step = checkpointer.saved_step(step)
        if not average:
            saved, rng, held = checkpointer.restore_raw(step)
            config = checkpointer.saved_config(step)
    finally:
        checkpointer.close()
    into = pathlib.Path(into)
    if average:
        shutil.copytree(checkpoint_dir(run) / str(step), checkpoint_dir(into) / str(step))
    else:
        writer = Checkpointer(into)
        try:
            writer.save(TrainState(step=saved["step"], params=saved["params"],
                                   opt_state=saved["opt_state"], bad_step=saved["bad_step"]),
                        rng, held, config)
        finally:
            writer.close()
    copy_metrics(run, into, step, history=False)
    return step


def travelling_bytes() -> int:
    """Bytes of the repository files that travel (tracked, and untracked not ignored)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return sum(size(ROOT / n.decode()) for n in names if n)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--run", help="training workdir whose checkpoint the lease continues")
    start.add_argument("--weights", help="weights file to start from (fresh optimiser)")
    p.add_argument("--step", type=int, help="checkpoint step of --run (default: the last)")
    p.add_argument("--train", default=str(SHARED / "bsds500"))
    p.add_argument("--val", default=str(SHARED / "kodak"))
    p.add_argument("--val_images", type=int, default=4)
    p.add_argument("--budget_mib", type=float, default=62.0,
                   help="size of all that travels, the repository's files included")
    args = p.parse_args(argv)

    gpu, wheels = ROOT / ".gpu", ROOT / ".whl"
    shutil.rmtree(gpu, ignore_errors=True)
    shutil.rmtree(wheels, ignore_errors=True)
    (gpu / "data").mkdir(parents=True)
    (gpu / "val").mkdir()
    if args.run:
        step = copy_checkpoint(args.run, gpu / "run", args.step, average=False)
        print(f"checkpoint {step} of {args.run}: {size(gpu / 'run') / 2**20:.1f} MiB")
    else:
        shutil.copy(args.weights, gpu / "weights.npz")
        print(f"weights {args.weights}: {size(gpu / 'weights.npz') / 2**20:.1f} MiB")
    for path in list_images(args.val)[: args.val_images]:
        shutil.copy(path, gpu / "val" / path.name)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                    *[f"--platform={x}" for x in PLATFORMS], "-d", str(wheels), *WHEELS],
                   check=True)
    repo = travelling_bytes()
    print(f"wheels: {size(wheels) / 2**20:.1f} MiB, repository files: {repo / 2**20:.1f} MiB")
    used, budget, copied = repo + size(gpu) + size(wheels), int(args.budget_mib * 2**20), 0
    for path in list_images(args.train):
        if used + path.stat().st_size > budget:
            break
        shutil.copy(path, gpu / "data" / f"{copied:05d}{path.suffix.lower()}")
        used += path.stat().st_size
        copied += 1
    print(f"{copied} training images ({size(gpu / 'data') / 2**20:.1f} MiB), "
          f"{args.val_images} validation images; {used / 2**20:.1f} MiB will travel")


if __name__ == "__main__":
    main()

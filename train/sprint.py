"""Budgeted training for short accelerator leases: ``python -m train.sprint ...``.

Built for a GPU lent for minutes: every training image is decoded once and kept on the
device as uint8; one compiled program samples a batch of random crops and flips on the
device and takes one train step. The host dispatches ``--steps_per_chunk`` steps
asynchronously and synchronises once per chunk to read their metrics. (Not a
``lax.scan`` over the steps: inside a while loop XLA:CPU runs the step about 20 times
slower, 30 s instead of 1.5 s for the N=64 model on 2 cores.) Compilation happens before
the clock starts. Training continues from a
weights file (``--resume``, possibly split into ``.partNNN`` pieces) with a fresh
optimiser state; the step count, and with it the PQF and learning-rate schedules,
carries on from the file's metadata. At the end the weights are exported (float32 and
float16) in pieces of at most ``--piece_mib`` MiB, and a JSON summary is written.

Needs jax, flax, optax, numpy, pillow and constriction; not grain or ml_collections (so it
imports nothing from train/ that does).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import tempfile
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import AsymmetricModel, Codec, ModelConfig, init_params
from jaxlic.coding import weights
from jaxlic.images import list_images, read_image
from jaxlic.losses import QUALITY_LMBDAS
from jaxlic.models import ALIGNMENT
from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
from jaxlic.training.step import train_step
from train.evaluate import make_estimator, validate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.sprint", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder of training images (recursive)")
    p.add_argument("--out", required=True, help="output folder (weights pieces, summary)")
    p.add_argument("--budget_seconds", type=float, required=True,
                   help="wall-clock training time, compilation excluded")
    p.add_argument("--preset", default="n128", help="model preset for a fresh start")
    p.add_argument("--variable_rate", action="store_true",
                   help="a fresh start gets gain units for the eight qualities "
                        "(jaxlic.losses.QUALITY_LMBDAS); a resumed variable-rate model "
                        "always trains at all of them and ignores --lmbda")
    p.add_argument("--lmbda", type=float, default=0.0032)
    p.add_argument("--distortion", default="mse", choices=("mse", "ms-ssim"))
    p.add_argument("--resume", help="weights file, or its path without the .partNNN suffix")
    p.add_argument("--val", help="folder of validation images (estimated bpp / PSNR)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--steps_per_chunk", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100,
                   help="linear learning-rate warm-up over this run's first steps")
    p.add_argument("--clip_norm", type=float, default=1.0, help="global-norm clipping; 0 = off")
    p.add_argument("--pq_steps", type=int, default=20_000)
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                   help="compute dtype of g_a, the importance map and g_s")
    p.add_argument("--max_images", type=int, default=0, help="0 = all images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="weights", help="file name stem of the exports")
    p.add_argument("--piece_mib", type=float, default=16.0)
    return p.parse_args(argv)


# -- weights files in pieces ------------------------------------------------------------

def split_file(path: pathlib.Path, max_bytes: int) -> list[pathlib.Path]:
    """Cut ``path`` into ``path.part000, ...`` of at most ``max_bytes``; remove ``path``."""
    data = path.read_bytes()
    pieces = []
    for i, start in enumerate(range(0, max(len(data), 1), max_bytes)):
        piece = path.with_name(f"{path.name}.part{i:03d}")
        piece.write_bytes(data[start:start + max_bytes])
        pieces.append(piece)
    path.unlink()
    return pieces


def join_pieces(path: str | os.PathLike, into: pathlib.Path) -> pathlib.Path:
    """``path`` itself if it exists, else its ``.partNNN`` pieces concatenated into ``into``."""
    path = pathlib.Path(path)
    if path.exists():
        return path
    pieces = sorted(path.parent.glob(path.name + ".part[0-9][0-9][0-9]"))
    if not pieces:
        raise FileNotFoundError(f"neither {path} nor its .partNNN pieces exist")
    into.write_bytes(b"".join(p.read_bytes() for p in pieces))
    return into


# -- device-resident data ---------------------------------------------------------------

def load_training_images(folder: str, crop: int, max_images: int = 0) -> np.ndarray:
    """``[M, H, W, 3]`` uint8: every image turned landscape and centre-cropped to the
    largest size all of them share (images smaller than ``crop`` are skipped)."""
    images = []
    for path in list_images(folder):
        try:
            image = read_image(path)
        except ValueError as e:
            print(f"skipping {path}: {e}")
            continue
        if image.shape[0] > image.shape[1]:
            image = image.transpose(1, 0, 2)
        if min(image.shape[:2]) >= crop:
            images.append(image)
        if max_images and len(images) == max_images:
            break
    if not images:
        raise ValueError(f"no image of at least {crop}x{crop} pixels under {folder}")
    height = min(im.shape[0] for im in images)
    width = min(im.shape[1] for im in images)

    def centre(im):
        top, left = (im.shape[0] - height) // 2, (im.shape[1] - width) // 2
        return im[top:top + height, left:left + width]

    return np.stack([centre(im) for im in images])


def sample_batch(data: jax.Array, key: jax.Array, batch: int, crop: int) -> jax.Array:
    """Random crops with random horizontal and vertical flips, ``[B, crop, crop, 3]`` in [0, 1]."""
    k_img, k_top, k_left, k_flip = jax.random.split(key, 4)
    m, h, w, _ = data.shape
    index = jax.random.randint(k_img, (batch,), 0, m)
    top = jax.random.randint(k_top, (batch,), 0, h - crop + 1)
    left = jax.random.randint(k_left, (batch,), 0, w - crop + 1)
    flips = jax.random.bernoulli(k_flip, 0.5, (batch, 2))

    def one(i, t, l, f):
        x = jax.lax.dynamic_slice(data[i], (t, l, 0), (crop, crop, 3))
        x = jnp.where(f[0], x[:, ::-1], x)
        return jnp.where(f[1], x[::-1], x)

    crops = jax.vmap(one)(index, top, left, flips)
    return crops.astype(jnp.float32) / 255.0


# -- the run ----------------------------------------------------------------------------

def _start(args: argparse.Namespace, workdir: pathlib.Path) -> tuple[ModelConfig, Any, dict]:
    """Config, float32 params and training metadata, from ``--resume`` or a fresh init."""
    if not args.resume:
        config = ModelConfig.preset(args.preset)
        if args.variable_rate:
            config = dataclasses.replace(config, rate_levels=len(QUALITY_LMBDAS))
        return config, init_params(config, jax.random.PRNGKey(args.seed)), {"step": 0, "runs": []}
    path = join_pieces(args.resume, workdir / "resume.npz")
    config, params, _, meta = weights.load(path)
    history = meta.get("training", {"step": 0, "runs": []})
    if history.get("lmbda", args.lmbda) != args.lmbda:
        print(f"note: resuming a lambda={history['lmbda']} model with lambda={args.lmbda}")
    return config, params, history


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        config, params, history = _start(args, workdir)
    dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    model = AsymmetricModel(config, dtype=dtype)
    first_step = int(history.get("step", 0))
    # The warm-up counts from this run's first step: the Adam state starts afresh.
    halving, warmup = halving_schedule(args.lr), max(args.warmup, 1)

    def schedule(step):
        return halving(step) * jnp.minimum((step - first_step + 1.0) / warmup, 1.0)

    tx = make_optimizer(schedule, clip_norm=args.clip_norm or None)
    levels = QUALITY_LMBDAS if config.variable_rate else ()
    loss = LossConfig(args.lmbda, args.distortion, args.pq_steps, levels)
    state = TrainState.create(params, tx).replace(step=jnp.asarray(first_step, jnp.int32))

    t0 = time.perf_counter()
    data = jax.device_put(load_training_images(args.data, args.crop, args.max_images))
    load_seconds = time.perf_counter() - t0
    print(f"data: {data.shape[0]} images of {data.shape[2]}x{data.shape[1]} on "
          f"{jax.devices()[0].device_kind} ({load_seconds:.1f} s)")

    def step(state, data, key):
        batch = sample_batch(data, jax.random.fold_in(key, state.step), args.batch, args.crop)
        return train_step(state, batch, key, model=model, tx=tx, loss=loss)

    key = jax.random.PRNGKey(args.seed + first_step)
    t0 = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=0).lower(state, data, key).compile()
    compile_seconds = time.perf_counter() - t0
    print(f"compiled the step in {compile_seconds:.1f} s")

    log = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.budget_seconds:
        chunk = []
        for _ in range(args.steps_per_chunk):
            state, metrics = compiled(state, data, key)
            chunk.append(metrics)
        chunk = jax.device_get(chunk)
        metrics = {k: float(np.mean([m[k] for m in chunk])) for k in chunk[0]}
        elapsed = time.perf_counter() - t0
        done = int(state.step) - first_step
        log.append({"step": int(state.step), "seconds": round(elapsed, 2), **metrics})
        print(f"step {int(state.step)}  {done / elapsed:.2f} steps/s  loss {metrics['loss']:.4f}"
              f"  bpp {metrics['bpp']:.4f}  psnr {metrics['psnr']:.2f}", flush=True)
        if int(state.bad_step) >= 0:
            raise FloatingPointError(f"non-finite loss or gradient at step {int(state.bad_step)}")
    train_seconds = time.perf_counter() - t0
    steps = int(state.step) - first_step

    params = jax.device_get(state.params)
    val = {}
    if args.val:  # estimated rate and distortion (rounded latents, model likelihoods)
        images = [read_image(p) for p in list_images(args.val)]
        images = [im[: im.shape[0] // ALIGNMENT * ALIGNMENT, : im.shape[1] // ALIGNMENT * ALIGNMENT]
                  for im in images]
        estimator = make_estimator(AsymmetricModel(config), loss)
        val = validate(estimator, params, images, range(len(levels)))
    run_info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": jax.devices()[0].device_kind, "steps": steps, "first_step": first_step,
        "train_seconds": round(train_seconds, 1), "compile_seconds": round(compile_seconds, 1),
        "steps_per_second": round(steps / train_seconds, 3), "dtype": args.dtype,
        "batch": args.batch, "crop": args.crop, "lr": args.lr, "warmup": args.warmup,
        "clip_norm": args.clip_norm, "images": int(data.shape[0]),
        "last": log[-1] if log else None, "validation_estimate": val,
    }
    history = {"step": int(state.step), "lmbda": args.lmbda, "distortion": args.distortion,
               "runs": list(history.get("runs", [])) + [run_info]}
    codec = Codec(config, params)
    for suffix, half in (("f32", False), ("f16", True)):
        path = out / f"{args.name}-{suffix}.npz"
        codec.save(path, half_precision=half, extra={"training": history})
        split_file(path, int(args.piece_mib * 2**20))
    summary = {"config": config.to_dict(), "model_id": codec.model_id.hex(), **run_info,
               "total_step": int(state.step)}
    (out / "summary.json").write_text(json.dumps({**summary, "log": log}, indent=1))
    print(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()

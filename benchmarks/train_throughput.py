"""Training-step throughput in images/s: jaxlic's pmap step, optionally beside CompressAI.

    python benchmarks/train_throughput.py                       # N=128, batch 8, 256x256
    python benchmarks/train_throughput.py --compare-compressai \\
        --torch-python /work/torchvenv/bin/python               # + cheng2020-attn in PyTorch

The jaxlic step is the training program's own (``train.parallel.make_parallel_step``:
pmap over all local devices, Adam + the auxiliary quantile optimiser). The CompressAI
step is its ``examples/train.py`` step: forward, rate-distortion loss, backward, Adam,
then the auxiliary loss with its own Adam. Both run on random uint8 images (compute only,
no input pipeline). Compile time (jaxlic's first call, minus one steady step) is reported
apart from the steady-state rate. Runs on whatever JAX and PyTorch find: the CPU here, a
GPU where there is one (``--dtype bfloat16`` for jaxlic's mixed precision there).
Prints one JSON line per framework, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _timed_steps(step, warmup: int, steps: int) -> tuple[float, float]:
    """``(seconds of the first call, mean seconds per call after warmup)``; ``step()`` must
    block until its result is ready."""
    tic = time.perf_counter()
    step()
    first = time.perf_counter() - tic
    for _ in range(warmup - 1):
        step()
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    return first, (time.perf_counter() - tic) / steps


def bench_jaxlic(args: argparse.Namespace) -> dict:
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxlic import AsymmetricModel, ModelConfig, init_params
    from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
    from train import parallel

    config = ModelConfig.preset(args.model)
    model = AsymmetricModel(config, dtype=jnp.dtype(args.dtype))
    tx = make_optimizer(halving_schedule(args.lr))
    step_fn = parallel.make_parallel_step(model, tx, LossConfig(args.lmbda))
    create = jax.jit(lambda p: TrainState.create(p, tx))
    state = parallel.replicate(jax.device_get(create(init_params(config, jax.random.PRNGKey(0)))))
    images = np.random.default_rng(0).integers(
        0, 256, (args.batch, args.crop, args.crop, 3), np.uint8)
    images = parallel.split_batch(images, jax.local_device_count())
    rng = jax.random.PRNGKey(1)

    def step():
        nonlocal state
        state, metrics = step_fn(state, images, rng)
        jax.block_until_ready(metrics["loss"])

    first, per_step = _timed_steps(step, args.warmup, args.steps)
    return {"framework": "jaxlic", "model": f"asymmetric {args.model} ({args.dtype})",
            "device": f"{jax.local_device_count()} x {jax.devices()[0].device_kind}",
            "images_per_sec": args.batch / per_step, "sec_per_step": per_step,
            "compile_sec": max(first - per_step, 0.0)}


def bench_compressai(args: argparse.Namespace) -> dict:
    import torch
    from compressai.zoo import cheng2020_attn

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    # Qualities 1-3 are the N=128 variants (CompressAI's cfgs); 4-6 use N=192.
    model = cheng2020_attn(quality=3, pretrained=False).to(device).train()
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(main, lr=args.lr)
    aux_optimizer = torch.optim.Adam(aux, lr=10 * args.lr)
    x = torch.randint(0, 256, (args.batch, 3, args.crop, args.crop), device=device) / 255.0
    num_pixels = args.batch * args.crop * args.crop

    def step():
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        out = model(x)
        bpp = sum(-torch.log2(p).sum() for p in out["likelihoods"].values()) / num_pixels
        loss = args.lmbda * 255**2 * torch.mean((out["x_hat"] - x) ** 2) + bpp
        loss.backward()
        optimizer.step()
        model.aux_loss().backward()
        aux_optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    first, per_step = _timed_steps(step, args.warmup, args.steps)
    name = (torch.cuda.get_device_name() if device == "cuda"
            else f"cpu, {torch.get_num_threads()} threads")
    return {"framework": f"compressai (torch {torch.__version__})",
            "model": "cheng2020-attn N=128 (float32)", "device": name,
            "images_per_sec": args.batch / per_step, "sec_per_step": per_step,
            "compile_sec": 0.0, "first_step_sec": first}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=["jaxlic", "compressai"], default="jaxlic")
    parser.add_argument("--compare-compressai", action="store_true",
                        help="also time CompressAI's cheng2020-attn (needs torch + compressai)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="Python with torch and compressai installed")
    parser.add_argument("--model", default="n128", help="jaxlic preset: n128, n256, tiny")
    parser.add_argument("--dtype", default="float32", help="jaxlic compute dtype")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps, >= 1")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--lmbda", type=float, default=0.0032)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.framework == "compressai":
        print(json.dumps(bench_compressai(args)), flush=True)
        return
    rows = [bench_jaxlic(args)]
    print(json.dumps(rows[0]), flush=True)
    if args.compare_compressai:
        same = [f"--{k}={getattr(args, k)}" for k in ("batch", "crop", "steps", "warmup", "lr",
                                                       "lmbda")]
        # The torch run gets its own process (and may use another virtualenv).
        out = subprocess.run([args.torch_python, os.path.abspath(__file__),
                              "--framework=compressai", *same],
                             check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[1]), flush=True)
    print(f"\nbatch {args.batch}, {args.crop}x{args.crop} crops, {args.steps} timed steps")
    print(f"{'framework':32} {'model':32} {'images/s':>9} {'s/step':>8} {'compile s':>10}  device")
    for r in rows:
        print(f"{r['framework']:32} {r['model']:32} {r['images_per_sec']:9.3f} "
              f"{r['sec_per_step']:8.2f} {r['compile_sec']:10.1f}  {r['device']}")


if __name__ == "__main__":
    main()

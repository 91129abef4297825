"""The first steps of training, side by side: jaxlic recipes against CompressAI's.

    python benchmarks/train_start.py --recipe shipped -o results/train_start
    python benchmarks/train_start.py --recipe old -o results/train_start
    /path/to/torch/python benchmarks/train_start.py --recipe compressai -o results/train_start

Every recipe sees exactly the same batches: random ``--crop`` crops with random flips of
the BSDS500 training images, drawn by one NumPy generator with a fixed seed (in this file,
shared by both frameworks). One fixed lambda (``--lmbda``, MSE) and width (``--channels``)
for all, so that only the recipe differs:

- ``shipped``: jaxlic's asymmetric model with the recipe of ``configs/variable_rate_n64.py``
  (lr 2e-4 with a 100-step warm-up, global-norm clipping at 1, mid-grey start of g_s);
- ``old``: the same model with the recipe before (lr 1e-4, no warm-up, no clipping);
- ``compressai``: CompressAI's ``Cheng2020Attention`` at the same width with its
  ``examples/train.py`` recipe (Adam 1e-4, auxiliary Adam 1e-3, clipping at norm 1).

Writes ``<recipe>.json`` with the training PSNR, bpp and loss of every step and prints the
means over windows of ``--window`` steps.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
BSDS_TRAIN = ROOT.parent / "shared" / "data" / "bsds500" / "train"


def batches(steps: int, batch: int, crop: int, seed: int = 0):
    """``steps`` uint8 batches ``[batch, crop, crop, 3]``: random crops and flips."""
    from PIL import Image

    paths = sorted(p for p in BSDS_TRAIN.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        out = []
        for _ in range(batch):
            im = images[rng.integers(len(images))]
            top = rng.integers(im.shape[0] - crop + 1)
            left = rng.integers(im.shape[1] - crop + 1)
            x = im[top:top + crop, left:left + crop]
            if rng.random() < 0.5:
                x = x[:, ::-1]
            if rng.random() < 0.5:
                x = x[::-1]
            out.append(x)
        yield np.ascontiguousarray(np.stack(out))


def run_jaxlic(args: argparse.Namespace):
    """Per step ``(psnr, bpp, loss)`` of jaxlic's model under the ``shipped`` or ``old`` recipe."""
    sys.path.insert(0, str(ROOT))
    import jax
    import jax.numpy as jnp

    from jaxlic import AsymmetricModel, ModelConfig, init_params
    from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
    from jaxlic.training import make_train_step

    config = ModelConfig(latent_channels=args.channels, ep_hidden=5 * args.channels)
    lr, warmup, clip = (2e-4, 100, 1.0) if args.recipe == "shipped" else (1e-4, 0, None)
    tx = make_optimizer(halving_schedule(lr, warmup=warmup), clip_norm=clip)
    model = AsymmetricModel(config)
    step = jax.jit(make_train_step(model, tx, LossConfig(args.lmbda)), donate_argnums=0)
    state = TrainState.create(init_params(config, jax.random.PRNGKey(0)), tx)
    for images in batches(args.steps, args.batch, args.crop):
        state, m = step(state, jnp.asarray(images, jnp.float32) / 255.0, jax.random.PRNGKey(1))
        yield float(m["psnr"]), float(m["bpp"]), float(m["loss"])


def run_compressai(args: argparse.Namespace):
    """Per step ``(psnr, bpp, loss)`` of CompressAI's Cheng2020Attention, its train.py recipe."""
    import torch
    from compressai.models import Cheng2020Attention

    torch.manual_seed(0)
    model = Cheng2020Attention(N=args.channels).train()
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(main, lr=1e-4)
    aux_optimizer = torch.optim.Adam(aux, lr=1e-3)
    for images in batches(args.steps, args.batch, args.crop):
        # contiguous: a strided (channels-last) input corrupted the heap in torch 2.14 CPU
        x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().float() / 255.0
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        out = model(x)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(-torch.log2(p).sum() for p in out["likelihoods"].values()) / pixels
        mse = torch.mean((out["x_hat"] - x) ** 2)
        loss = args.lmbda * 255**2 * mse + bpp
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        model.aux_loss().backward()
        aux_optimizer.step()
        yield float(-10 * torch.log10(mse)), float(bpp), float(loss)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", choices=("shipped", "old", "compressai"), required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--channels", type=int, default=64, help="N (jaxlic head: 5N)")
    p.add_argument("--lmbda", type=float, default=0.0067, help="MSE lambda (quality 3)")
    p.add_argument("--window", type=int, default=25)
    p.add_argument("-o", "--output-dir", default=".")
    args = p.parse_args()
    run = run_compressai if args.recipe == "compressai" else run_jaxlic
    start, log = time.perf_counter(), []
    for i, (psnr, bpp, loss) in enumerate(run(args)):
        log.append({"step": i + 1, "psnr": psnr, "bpp": bpp, "loss": loss,
                    "seconds": time.perf_counter() - start})
        if (i + 1) % args.window == 0:
            w = log[-args.window:]
            print(f"step {i + 1}: psnr {np.mean([r['psnr'] for r in w]):.2f} dB, "
                  f"bpp {np.mean([r['bpp'] for r in w]):.3f}, "
                  f"loss {np.mean([r['loss'] for r in w]):.2f}", flush=True)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "output_dir"}
    (out / f"{args.recipe}.json").write_text(json.dumps({**settings, "log": log}, indent=0))


if __name__ == "__main__":
    main()

"""How much a variable-rate model's latent can hold, and how much of it is used.

For every quality level, on Kodak: the PSNR of ``g_s(g_a(x))`` from the unquantised
latent (the transforms' ceiling: no rate at all), from the rounded latent (what the codec
decodes, before entropy coding) and from a latent rounded on a 4 times finer grid; and
how many of y's M channels are in use (more than 1 %, 10 % and 50 % of their rounded
symbols non-zero). When the top quality is already close to the ceiling, more rate
cannot buy quality: only better or wider transforms can; a widened model
(``train.widen``) shows its new channels coming into use as the counts pass the old M.
Each ``--run`` is ``LABEL=WORKDIR:STEP`` (a training checkpoint) or ``LABEL=FILE.npz``::

    python benchmarks/latent_capacity.py --images 4 \\
        --run release=jaxlic/zoo/weights/fu2022-n64-vr.npz --run main=~/jaxlic-runs/main:28531
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the train package

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import AsymmetricModel, ModelConfig
from jaxlic.coding import weights
from train.checkpoint import Checkpointer
from train.input_pipeline import aligned_images

GRIDS = {"unquantised": None, "rounded": 1.0, "step 1/4": 4.0}


def load(spec: str) -> tuple[ModelConfig, dict]:
    """``WORKDIR:STEP`` or a weights file -> (config, params)."""
    if spec.endswith(".npz"):
        config, params, _, _ = weights.load(spec)
        return config, params
    workdir, step = spec.rsplit(":", 1)
    checkpointer = Checkpointer(pathlib.Path(workdir).expanduser(), read_only=True)
    config = ModelConfig.from_dict(checkpointer.saved_config(int(step)).model.to_dict())
    return config, checkpointer.params(int(step))


USE_THRESHOLDS = (0.01, 0.1, 0.5)  # fractions of non-zero symbols that count as "in use"


def analyse(config: ModelConfig, params: dict, images: list[np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Mean PSNR (dB) ``[levels, len(GRIDS)]`` over ``images``, and the number of channels
    in use ``[levels, len(USE_THRESHOLDS)]`` (non-zero fractions over all images)."""
    model = AsymmetricModel(config)
    variables = {"params": jax.tree.map(jnp.asarray, params)}

    @jax.jit
    def reconstructions(x, level):
        gains = model.apply(variables, level, method=model.gains)
        y = model.apply(variables, x, method=model.analysis) * gains.y[:, None, None, :]
        outs = []
        for grid in GRIDS.values():
            y_hat = y if grid is None else jnp.round(y * grid) / grid
            outs.append(model.apply(variables, y_hat * gains.y_inverse[:, None, None, :],
                                    method=model.synthesis))
        return jnp.stack(outs), jnp.sum(jnp.round(y) != 0, axis=(0, 1, 2)), y[0].size // y.shape[-1]

    psnr = np.zeros((config.rate_levels, len(GRIDS)))
    used = np.zeros((config.rate_levels, len(USE_THRESHOLDS)), int)
    for level in range(config.rate_levels):
        nonzero, positions = 0, 0
        for image in images:
            x = jnp.asarray(image[None], jnp.float32) / 255.0
            out, count, size = reconstructions(x, jnp.full((1,), float(level)))
            out = np.clip(np.asarray(out), 0, 1)
            mse = np.mean((np.round(out * 255) - image[None].astype(np.float64)) ** 2,
                          axis=(1, 2, 3, 4))
            psnr[level] += 10 * np.log10(255.0**2 / mse) / len(images)
            nonzero, positions = nonzero + np.asarray(count), positions + int(size)
        used[level] = [int(np.sum(nonzero / positions > t)) for t in USE_THRESHOLDS]
    return psnr, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=pathlib.Path, default=pathlib.Path("../shared/data/kodak"))
    parser.add_argument("--images", type=int, default=4, help="first N Kodak images")
    parser.add_argument("--run", action="append", required=True,
                        help="LABEL=WORKDIR:STEP or LABEL=FILE.npz")
    args = parser.parse_args()
    images = aligned_images(args.kodak, args.images)
    for spec in args.run:
        label, source = spec.split("=", 1)
        config, params = load(source)
        if not config.variable_rate:
            sys.exit(f"{label}: not a variable-rate model")
        psnr, used = analyse(config, params, images)
        print(f"{label} (M={config.latent_channels}, N={config.transform_width}), "
              f"Kodak, {len(images)} images: PSNR (dB) and channels in use")
        print("  quality " + "".join(f"{name:>13}" for name in GRIDS)
              + "".join(f"{f'>{t:.0%} nonzero':>13}" for t in USE_THRESHOLDS))
        for level in range(config.rate_levels):
            print(f"  {level + 1:7d} " + "".join(f"{p:13.2f}" for p in psnr[level])
                  + "".join(f"{u:13d}" for u in used[level]))


if __name__ == "__main__":
    main()

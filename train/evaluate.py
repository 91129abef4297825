"""Periodic validation: estimated rates and distortion on a folder of images.

Rates are the model's estimate with rounding (``train=False``), not real bitstreams;
``jaxlic.Codec`` measures those after export. A variable-rate model is estimated at each
requested quality level.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import AsymmetricModel
from jaxlic.losses import rd_loss
from jaxlic.training import LossConfig

Estimator = Callable[..., dict[str, jax.Array]]


def make_estimator(model: AsymmetricModel, loss: LossConfig) -> Estimator:
    """Jitted ``(params, image uint8 [H, W, 3], level) -> metrics`` (``loss``, ``bpp``,
    ``bpp_y``, ``bpp_z``, ``mse``, ``psnr``, ``ms_ssim`` for images of 176 px and more).

    ``level`` is the integer quality level of a variable-rate model (its lambda weights
    the loss) and None for a fixed-rate one. H and W must be multiples of 64; each distinct
    size compiles once."""

    @jax.jit
    def estimate(params, image, level=None):
        x = image[None].astype(jnp.float32) / 255.0
        lmbda, extra = loss.lmbda, {}
        if level is not None:
            lmbda = jnp.asarray(loss.level_lmbdas, jnp.float32)[level]
            extra["level"] = jnp.reshape(level, (1,)).astype(jnp.float32)
        outputs = model.apply({"params": params}, x, train=False, **extra)
        outputs["x_hat"] = jnp.clip(outputs["x_hat"], 0.0, 1.0)
        _, metrics = rd_loss(x, outputs, lmbda, loss.distortion)
        del metrics["pq_loss"]
        return metrics

    return estimate


def validate(estimate: Estimator, params: Any, images: list[np.ndarray],
             levels: Sequence[int] = ()) -> dict[str, float]:
    """Each metric averaged over ``images`` (PSNR too is the mean of per-image PSNRs).

    With ``levels`` (variable-rate models) the metrics of level ``l`` are named
    ``q<l+1>/<metric>``, after the quality scale of ``Codec.compress``.
    """
    if not levels:
        return _mean([estimate(params, image) for image in images])
    out = {}
    for level in levels:
        metrics = _mean([estimate(params, image, level) for image in images])
        out.update({f"q{level + 1}/{k}": v for k, v in metrics.items()})
    return out


def _mean(per_image: list[dict[str, jax.Array]]) -> dict[str, float]:
    per_image = jax.device_get(per_image)
    return {k: float(np.mean([m[k] for m in per_image])) for k in per_image[0]}

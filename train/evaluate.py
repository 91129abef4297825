"""Periodic validation: estimated rates and distortion on a folder of images.

Rates are the model's estimate with rounding (``train=False``), not real bitstreams;
``jaxlic.Codec`` measures those after export.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import AsymmetricModel
from jaxlic.losses import rd_loss

Estimator = Callable[[Any, jax.Array], dict[str, jax.Array]]


def make_estimator(model: AsymmetricModel, lmbda: float, distortion: str) -> Estimator:
    """Jitted ``(params, image uint8 [H, W, 3]) -> metrics`` (``loss``, ``bpp``,
    ``bpp_y``, ``bpp_z``, ``mse``, ``psnr``, ``ms_ssim`` for images of 176 px and more).
    H and W must be multiples of 64; each distinct size compiles once."""

    @jax.jit
    def estimate(params, image):
        x = image[None].astype(jnp.float32) / 255.0
        outputs = model.apply({"params": params}, x, train=False)
        outputs["x_hat"] = jnp.clip(outputs["x_hat"], 0.0, 1.0)
        _, metrics = rd_loss(x, outputs, lmbda, distortion)
        del metrics["pq_loss"]
        return metrics

    return estimate


def validate(estimate: Estimator, params: Any, images: list[np.ndarray]) -> dict[str, float]:
    """Each metric averaged over ``images`` (PSNR too is the mean of per-image PSNRs)."""
    per_image = jax.device_get([estimate(params, image) for image in images])
    return {k: float(np.mean([m[k] for m in per_image])) for k in per_image[0]}

"""Rate-distortion objective (spec section 5.3): ``lambda * D + R_y + R_z + lambda_1 * L_PQ``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlic import metrics

DISTORTIONS = ("mse", "ms-ssim")


def bits(likelihood: jax.Array) -> jax.Array:
    """Information content ``sum(-log2 p)`` in bits, scalar."""
    return jnp.sum(-jnp.log2(likelihood))


def rd_loss(x: jax.Array, outputs: dict[str, Any], lmbda: float, distortion: str = "mse",
            pq_weight: jax.Array | float = 0.0) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss and metrics of one batch.

    Args:
      x: ``[B, H, W, 3]`` originals in [0, 1].
      outputs: the model's forward-pass dict (``x_hat``, ``likelihoods``, ``pq_loss``).
      lmbda: rate-distortion trade-off on the paper's scale.
      distortion: ``"mse"`` (D = 255^2 * MSE) or ``"ms-ssim"`` (D = 1 - MS-SSIM).
      pq_weight: lambda_1 of the PQF term (1 for the first 20k steps, then 0).

    Returns:
      ``(loss, metrics)`` where rates are bits per image pixel of the batch (``bpp``,
      ``bpp_y``, ``bpp_z``), ``mse`` is on the [0, 1] scale and ``psnr`` in dB;
      ``ms_ssim`` is included when the images are large enough for 5 scales.
    """
    if distortion not in DISTORTIONS:
        raise ValueError(f"distortion must be one of {DISTORTIONS}, got {distortion!r}")
    num_pixels = x.shape[0] * x.shape[1] * x.shape[2]
    x_hat = outputs["x_hat"]
    bpp_y = bits(outputs["likelihoods"]["y"]) / num_pixels
    bpp_z = bits(outputs["likelihoods"]["z"]) / num_pixels
    mse = jnp.mean(jnp.square(x - x_hat))
    out = {"bpp_y": bpp_y, "bpp_z": bpp_z, "bpp": bpp_y + bpp_z, "mse": mse,
           "psnr": -10.0 * jnp.log10(mse), "pq_loss": outputs["pq_loss"]}
    if min(x.shape[1:3]) >= metrics.min_ms_ssim_size():
        out["ms_ssim"] = jnp.mean(metrics.ms_ssim(x_hat, x))
    if distortion == "mse":
        d = 255.0**2 * mse
    else:
        if "ms_ssim" not in out:
            raise ValueError(f"MS-SSIM training needs crops of at least "
                             f"{metrics.min_ms_ssim_size()} pixels, got {x.shape[1:3]}")
        d = 1.0 - out["ms_ssim"]
    loss = lmbda * d + bpp_y + bpp_z + pq_weight * outputs["pq_loss"]
    out["loss"] = loss
    return loss, out

"""Rate-distortion objective (spec section 5.3): ``lambda * D + R_y + R_z + lambda_1 * L_PQ``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlic import metrics

DISTORTIONS = ("mse", "ms-ssim")

# CompressAI's MSE lambdas of its quality scale 1..8, on the same scale as ours
# (lambda * 255^2 * MSE + bpp): the levels of jaxlic's variable-rate models.
QUALITY_LMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


def bits(likelihood: jax.Array) -> jax.Array:
    """Information content ``sum(-log2 p)`` in bits, scalar."""
    return jnp.sum(-jnp.log2(likelihood))


def rd_loss(x: jax.Array, outputs: dict[str, Any], lmbda: jax.Array | float,
            distortion: str = "mse", pq_weight: jax.Array | float = 0.0,
            rated_channels: int | None = None,
            weight: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss and metrics of one batch.

    Args:
      x: ``[B, H, W, 3]`` originals in [0, 1].
      outputs: the model's forward-pass dict (``x_hat``, ``likelihoods``, ``pq_loss``).
      lmbda: rate-distortion trade-off on the paper's scale: a scalar, or ``[B]`` (one
        per example, for a variable-rate model; the loss is then the batch mean of
        ``lmbda_b * D_b`` plus the rate).
      distortion: ``"mse"`` (D = 255^2 * MSE) or ``"ms-ssim"`` (D = 1 - MS-SSIM).
      pq_weight: lambda_1 of the PQF term (1 for the first 20k steps, then 0).
      rated_channels: only the first this many channels of y count in the loss's rate
        (None: all), so that channels added by ``jaxlic.training.widen`` can first learn
        what they are worth to the distortion; the reported ``bpp_y`` counts all.
      weight: ``[B]``, each example's weight on its own ``lmbda * D + rate`` (None: all
        1, the batch mean). The PQF term and the reported rates and distortion are not
        weighted; the reported ``loss`` is.

    Returns:
      ``(loss, metrics)`` where rates are bits per image pixel of the batch (``bpp``,
      ``bpp_y``, ``bpp_z``), ``mse`` is on the [0, 1] scale and ``psnr`` in dB;
      ``ms_ssim`` is included when the images are large enough for 5 scales.
    """
    if distortion not in DISTORTIONS:
        raise ValueError(f"distortion must be one of {DISTORTIONS}, got {distortion!r}")
    num_pixels = x.shape[0] * x.shape[1] * x.shape[2]
    x_hat = outputs["x_hat"]
    likelihood_y = outputs["likelihoods"]["y"]
    bpp_y = bits(likelihood_y) / num_pixels
    rate_y = bpp_y if rated_channels is None else (
        bits(likelihood_y[..., :rated_channels]) / num_pixels)
    bpp_z = bits(outputs["likelihoods"]["z"]) / num_pixels
    mse_per_image = jnp.mean(jnp.square(x - x_hat), axis=(1, 2, 3))
    mse = jnp.mean(mse_per_image)
    out = {"bpp_y": bpp_y, "bpp_z": bpp_z, "bpp": bpp_y + bpp_z, "mse": mse,
           "psnr": -10.0 * jnp.log10(mse), "pq_loss": outputs["pq_loss"]}
    ms_ssim = None
    if min(x.shape[1:3]) >= metrics.min_ms_ssim_size():
        ms_ssim = metrics.ms_ssim(x_hat, x)
        out["ms_ssim"] = jnp.mean(ms_ssim)
    if distortion == "mse":
        d = 255.0**2 * mse_per_image
    else:
        if ms_ssim is None:
            raise ValueError(f"MS-SSIM training needs crops of at least "
                             f"{metrics.min_ms_ssim_size()} pixels, got {x.shape[1:3]}")
        d = 1.0 - ms_ssim
    weighted = jnp.broadcast_to(jnp.asarray(lmbda, jnp.float32), d.shape) * d
    if weight is None:
        rd = jnp.mean(weighted) + rate_y + bpp_z
    else:
        rated = likelihood_y if rated_channels is None else likelihood_y[..., :rated_channels]
        rates = (jax.vmap(bits)(rated) + jax.vmap(bits)(outputs["likelihoods"]["z"])
                 ) / (x.shape[1] * x.shape[2])  # [B], bits per pixel of each example
        rd = jnp.mean(weight * (weighted + rates))
    loss = rd + pq_weight * outputs["pq_loss"]
    out["loss"] = loss
    return loss, out

"""Distortion of a uint8 RGB reconstruction: PSNR-RGB and MS-SSIM (value and dB)."""

from __future__ import annotations

import jax
import numpy as np

from jaxlic import metrics


def psnr_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels of two uint8 ``[H, W, 3]`` images (peak 255),
    in float64 (``metrics.psnr`` is the float32 JAX version); ``inf`` for identical images."""
    mse = np.mean(np.square(original.astype(np.float64) - reconstruction.astype(np.float64)))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


@jax.jit
def _ms_ssim_01(x: jax.Array, y: jax.Array) -> jax.Array:
    """MS-SSIM of two uint8 ``[H, W, 3]`` images, scalar (compiled once per shape)."""
    return metrics.ms_ssim(x[None] / 255.0, y[None] / 255.0)[0]


def ms_ssim_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float | None:
    """MS-SSIM (0..1) of two uint8 ``[H, W, 3]`` images, or ``None`` when a side is shorter
    than ``metrics.min_ms_ssim_size()`` (176 px)."""
    if min(original.shape[:2]) < metrics.min_ms_ssim_size():
        return None
    return float(_ms_ssim_01(original, reconstruction))


def ms_ssim_db(value: float | None) -> float | None:
    """MS-SSIM on the dB scale, ``-10 log10(1 - value)``; ``inf`` at 1, ``None`` passes through."""
    if value is None:
        return None
    return float("inf") if value >= 1.0 else float(metrics.ms_ssim_db(value))

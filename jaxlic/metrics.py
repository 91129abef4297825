"""Image quality metrics in JAX: PSNR and MS-SSIM (Wang, Simoncelli and Bovik 2003).

Both take ``[..., H, W, C]`` images on a ``[0, max_val]`` scale and are differentiable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03


def psnr(x: jax.Array, y: jax.Array, max_val: float = 1.0) -> jax.Array:
    """Peak signal-to-noise ratio in dB over all elements, scalar."""
    mse = jnp.mean(jnp.square(jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32)))
    return 10.0 * jnp.log10(max_val**2 / mse)


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian ``[size]``."""
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def _blur(x: jax.Array) -> jax.Array:
    """Separable 'valid' Gaussian filter per channel: ``[B, H, W, C] -> [B, H-10, W-10, C]``."""
    g = jnp.asarray(gaussian_window())
    c = x.shape[-1]
    dn = ("NHWC", "HWIO", "NHWC")
    kh = jnp.tile(g[:, None, None, None], (1, 1, 1, c))
    kw = jnp.tile(g[None, :, None, None], (1, 1, 1, c))
    x = jax.lax.conv_general_dilated(x, kh, (1, 1), "VALID", dimension_numbers=dn,
                                     feature_group_count=c)
    return jax.lax.conv_general_dilated(x, kw, (1, 1), "VALID", dimension_numbers=dn,
                                        feature_group_count=c)


def _ssim_terms(x: jax.Array, y: jax.Array, max_val: float) -> tuple[jax.Array, jax.Array]:
    """Mean SSIM and mean contrast-structure term per image, each ``[B]``."""
    c1, c2 = (K1 * max_val) ** 2, (K2 * max_val) ** 2
    mu_x, mu_y = _blur(x), _blur(y)
    sxx = _blur(x * x) - mu_x**2
    syy = _blur(y * y) - mu_y**2
    sxy = _blur(x * y) - mu_x * mu_y
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return jnp.mean(luminance * cs, axis=(1, 2, 3)), jnp.mean(cs, axis=(1, 2, 3))


def _downsample(x: jax.Array) -> jax.Array:
    """2x2 average pooling; an odd last row or column is dropped."""
    b, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def min_ms_ssim_size(scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Smallest image side for which the coarsest scale still fits the 11x11 window (176)."""
    return WINDOW_SIZE * 2 ** (scales - 1)


def ms_ssim(x: jax.Array, y: jax.Array, max_val: float = 1.0) -> jax.Array:
    """Multi-scale SSIM with the 5 standard weights, per image: ``[B, H, W, C] -> [B]``.

    Gaussian window 11 / sigma 1.5, K1 = 0.01, K2 = 0.03, 'valid' filtering and 2x2
    average-pool down-sampling; contrast-structure terms at scales 1-4 and the full SSIM
    at scale 5, each clipped at 0 before the power (as pytorch-msssim does; the
    gradient is zero there rather than NaN). Both sides must be at least
    ``min_ms_ssim_size()`` pixels.
    """
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ms_ssim needs two equal [B, H, W, C] arrays, got {x.shape}, {y.shape}")
    if min(x.shape[1:3]) < min_ms_ssim_size():
        raise ValueError(f"ms_ssim needs images of at least {min_ms_ssim_size()} pixels per "
                         f"side, got {x.shape[1]}x{x.shape[2]}")
    weights = jnp.asarray(MS_SSIM_WEIGHTS)
    factors = []
    for i in range(len(MS_SSIM_WEIGHTS)):
        ssim, cs = _ssim_terms(x, y, max_val)
        factors.append(ssim if i == len(MS_SSIM_WEIGHTS) - 1 else cs)
        x, y = _downsample(x), _downsample(y)
    values = jnp.stack(factors, axis=-1)
    positive = values > 0.0
    powered = jnp.where(positive, jnp.where(positive, values, 1.0) ** weights, 0.0)
    return jnp.prod(powered, axis=-1)


def ms_ssim_db(value: jax.Array | float) -> jax.Array:
    """MS-SSIM on the usual dB scale, ``-10 log10(1 - ms_ssim)``."""
    return -10.0 * jnp.log10(1.0 - jnp.asarray(value))

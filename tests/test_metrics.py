"""PSNR and MS-SSIM against their definitions and an independent float64 reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic import metrics
from tests.ms_ssim_reference import ms_ssim as reference_ms_ssim


def test_ms_ssim_identity_is_one(kodak_image):
    x = jnp.asarray(kodak_image[None, :256, :256] / 255.0, jnp.float32)
    np.testing.assert_allclose(metrics.ms_ssim(x, x), 1.0, atol=1e-6)


def test_ms_ssim_falls_with_noise(kodak_image):
    x = kodak_image[:192, :256] / 255.0
    rng = np.random.default_rng(0)
    values = []
    for sigma in (0.01, 0.03, 0.1, 0.3):
        y = np.clip(x + rng.normal(0, sigma, x.shape), 0, 1)
        values.append(float(metrics.ms_ssim(jnp.asarray(x[None], jnp.float32),
                                            jnp.asarray(y[None], jnp.float32))[0]))
    assert all(a > b for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("shape, sigma", [((176, 200, 3), 0.05), ((256, 256, 3), 0.2),
                                          ((177, 190, 1), 0.02)])
def test_ms_ssim_matches_numpy_reference(shape, sigma):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, shape)
    x = (x + np.roll(x, 1, 0) + np.roll(x, 1, 1)) / 3  # some spatial structure
    y = np.clip(x + rng.normal(0, sigma, shape), 0, 1)
    ours = float(metrics.ms_ssim(jnp.asarray(x[None], jnp.float32),
                                 jnp.asarray(y[None], jnp.float32))[0])
    assert abs(ours - reference_ms_ssim(x, y)) < 1e-4


def test_ms_ssim_on_255_scale_and_gradient():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.uniform(0, 1, (1, 180, 180, 3)), jnp.float32)
    y = jnp.clip(x + 0.1 * jnp.asarray(rng.normal(size=x.shape), jnp.float32), 0, 1)
    a = metrics.ms_ssim(x, y)
    b = metrics.ms_ssim(255 * x, 255 * y, max_val=255.0)
    np.testing.assert_allclose(a, b, rtol=1e-4)
    g = jax.grad(lambda y: metrics.ms_ssim(x, y).sum())(y)
    assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0


def test_ms_ssim_rejects_small_images():
    x = jnp.zeros((1, 100, 300, 3))
    with pytest.raises(ValueError, match="176"):
        metrics.ms_ssim(x, x)


def test_psnr():
    x = jnp.zeros((4, 4))
    np.testing.assert_allclose(metrics.psnr(x, x + 0.1), 20.0, rtol=1e-5)

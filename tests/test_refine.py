"""Latent refinement at encoding time: a lower rate-distortion cost, ordinary files."""

import dataclasses
import math

import jax
import numpy as np
import pytest
from PIL import Image

from jaxlic import Codec, ModelConfig, Refinement, init_params
from jaxlic.cli import main
from jaxlic.coding.gains import quality_lmbda
from jaxlic.coding.refine import MAX_PIXELS, refine_latents
from jaxlic.losses import QUALITY_LMBDAS
from jaxlic.ops import gumbel_rounding, round_about

QUALITY = 4


@pytest.fixture(scope="module")
def vr_codec():
    config = dataclasses.replace(ModelConfig.tiny(), rate_levels=len(QUALITY_LMBDAS))
    return Codec(config, init_params(config, jax.random.PRNGKey(0)))


@pytest.fixture(scope="module")
def image():
    rows, cols = np.mgrid[0:48, 0:80]
    smooth = np.stack([rows * 4, cols * 3, (rows + cols) * 2], -1)
    noise = np.random.default_rng(0).normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def _cost(codec, image, data):
    """The file's real cost: lambda * 255^2 * MSE + bits per pixel."""
    out = codec.decompress(data).astype(np.float64)
    mse = np.mean((out - image) ** 2) / 255.0**2
    return QUALITY_LMBDAS[QUALITY - 1] * 255.0**2 * mse + 8 * len(data) / image[..., 0].size


def test_quality_lmbda_interpolates_levels_in_the_log_domain():
    assert quality_lmbda(1000, QUALITY_LMBDAS) == pytest.approx(0.0018)
    assert quality_lmbda(8000, QUALITY_LMBDAS) == pytest.approx(0.18)
    assert quality_lmbda(2500, QUALITY_LMBDAS) == pytest.approx(math.sqrt(0.0035 * 0.0067))


def test_refined_files_cost_less_and_decode_as_usual(vr_codec, image, tmp_path, capsys):
    plain = vr_codec.compress(image, quality=QUALITY)
    timings = {}
    refined = vr_codec.compress(image, timings, quality=QUALITY,
                                refine=Refinement(steps=12, learning_rate=0.05, check_every=4))
    assert "refinement" in timings and refined != plain
    assert vr_codec.decompress(refined).shape == image.shape
    assert _cost(vr_codec, image, refined) < _cost(vr_codec, image, plain)
    # Nothing better found (a step too small to move any rounded value): the encoder's own
    # latents, so the very file of plain compression.
    assert vr_codec.compress(image, quality=QUALITY,
                             refine=Refinement(steps=2, learning_rate=1e-9)) == plain
    # The command line, on a weights file of the same model.
    weights = tmp_path / "vr.npz"
    vr_codec.save(weights)
    Image.fromarray(image).save(tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "--weights", str(weights),
                 "--quality", str(QUALITY), "--refine", "12"]) == 0
    assert (tmp_path / "in.jlic").read_bytes() == vr_codec.compress(
        image, quality=QUALITY, refine=Refinement(steps=12))
    with pytest.raises(SystemExit):
        main(["compress", str(tmp_path / "in.png"), "--weights", str(weights), "--refine", "0"])
    assert "must be a positive number" in capsys.readouterr().err


def test_gumbel_rounding_between_grid_points_and_cold_to_rounding():
    x = jax.numpy.linspace(-3.0, 3.0, 1001) + 0.013
    center = 0.3
    cold = gumbel_rounding(x, jax.random.PRNGKey(0), 1e-3, center)
    # Away from the midpoints between grid points (where even a cold draw may go either way).
    clear = np.abs((np.asarray(x) - center) % 1.0 - 0.5) > 0.02
    np.testing.assert_allclose(np.asarray(cold)[clear], np.asarray(round_about(x, center))[clear],
                               atol=1e-5)
    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    warm = jax.vmap(lambda k: gumbel_rounding(x, k, 0.5, center))(keys)
    below = np.floor(np.asarray(x) - center) + center
    assert np.all(warm >= below - 1e-5) and np.all(warm <= below + 1 + 1e-5)
    # The nearer grid point is the likelier: the mean lies on its side of the midpoint.
    mean_offset = np.asarray(warm.mean(0)) - below
    fraction = np.asarray(x) - below
    assert np.all((mean_offset - 0.5) * (fraction - 0.5) >= -1e-3)
    grads = jax.grad(lambda v: gumbel_rounding(v, jax.random.PRNGKey(2), 0.5).sum())(x)
    assert np.all(np.isfinite(grads)) and np.all(grads >= 0) and np.any(grads > 0)


def test_annealed_refinement_also_lowers_the_cost(vr_codec, image):
    settings = Refinement(steps=12, learning_rate=0.05, check_every=4, proxy="sga")
    assert settings.schedule(1) == pytest.approx((0.05, 0.5))
    assert settings.schedule(12) == pytest.approx((0.05 / 12, 0.1))
    plain = vr_codec.compress(image, quality=QUALITY)
    refined = vr_codec.compress(image, quality=QUALITY, refine=settings)
    assert _cost(vr_codec, image, refined) < _cost(vr_codec, image, plain)
    assert refined != vr_codec.compress(image, quality=QUALITY,
                                        refine=dataclasses.replace(settings, proxy="noise"))


def test_refinement_is_refused_where_it_cannot_work(vr_codec, image, tiny_config, tiny_params,
                                                    tmp_path):
    with pytest.raises(ValueError, match="target_bpp"):
        vr_codec.compress(image, target_bpp=1.0, refine=Refinement())
    with pytest.raises(ValueError, match="steps"):
        Refinement(steps=0)
    with pytest.raises(ValueError, match="proxy"):
        Refinement(proxy="round")
    with pytest.raises(ValueError, match="temperature"):
        Refinement(temperature=(0.5, 0.0))
    with pytest.raises(ValueError, match="lambda"):  # a fixed-rate model that records none
        Codec(tiny_config, tiny_params).compress(image, refine=Refinement())
    # The weights file keeps the training record, and with it the lambda.
    Codec(tiny_config, tiny_params, training={"lmbda": 0.01}).save(tmp_path / "fixed.npz")
    assert Codec.load(tmp_path / "fixed.npz")._refinement_lmbda(0) == 0.01
    big = np.zeros((MAX_PIXELS // 1024 + 64, 1024, 3), np.uint8)
    with pytest.raises(ValueError, match="pixels"):
        refine_latents(tiny_config, tiny_params, big, big.shape[:2], None, None, None, 0.01,
                       "mse", Refinement())

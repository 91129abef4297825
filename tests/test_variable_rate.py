"""Variable-rate models: gain units, per-example lambdas, quality in files, target bpp."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlic import AsymmetricModel, Codec, ModelConfig, init_params
from jaxlic.cli import main as cli_main
from jaxlic.coding import bitstream
from jaxlic.coding.gains import exact_exp, host_gains, quality_code
from jaxlic.layers.gain import GainUnit
from jaxlic.losses import QUALITY_LMBDAS, rd_loss
from jaxlic.training import LossConfig, TrainState
from jaxlic.training import make_train_step, training_loss
from jaxlic.training.step import draw_levels

LEVELS = 8


@pytest.fixture(scope="module")
def vr_config():
    return dataclasses.replace(ModelConfig.tiny(), rate_levels=LEVELS)


@pytest.fixture(scope="module")
def vr_params(vr_config):
    params = init_params(vr_config, jax.random.PRNGKey(0))
    # Make the gains differ per channel, as after training.
    rng = np.random.default_rng(0)
    for name in ("gain_y", "gain_z"):
        for key in ("log_gain", "log_inverse"):
            params[name][key] = params[name][key] + rng.normal(0, 0.2, params[name][key].shape)
    return params


@pytest.fixture(scope="module")
def vr_codec(vr_config, vr_params):
    return Codec(vr_config, vr_params)


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 100 * np.sin(x / 7.0 + seed) * np.cos(y / 11.0)
    return np.clip(base[..., None] + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def test_gain_unit_interpolates_exponentially():
    unit = GainUnit(levels=4, channels=3)
    params = unit.init(jax.random.PRNGKey(0), jnp.zeros((1,)))
    table = np.asarray(params["params"]["log_gain"])
    gain, inverse = unit.apply(params, jnp.asarray([0.0, 2.0, 1.25, 3.0, 7.0]))
    np.testing.assert_allclose(gain[0], np.exp(table[0]), rtol=1e-6)
    np.testing.assert_allclose(gain[1], np.exp(table[2]), rtol=1e-6)
    np.testing.assert_allclose(gain[2], np.exp(0.75 * table[1] + 0.25 * table[2]), rtol=1e-6)
    np.testing.assert_allclose(gain[4], gain[3], rtol=1e-6)  # clipped to the last level
    np.testing.assert_allclose(gain * inverse, 1.0, rtol=1e-6)  # they start as inverses
    assert np.all(np.diff(table[:, 0]) > 0)  # level 0 quantises most coarsely


def test_model_needs_levels_exactly_when_variable_rate(vr_config, vr_params, tiny_config,
                                                      tiny_params):
    x = jnp.full((2, 64, 64, 3), 0.5)
    rngs = {"noise": jax.random.PRNGKey(1)}
    out = AsymmetricModel(vr_config).apply({"params": vr_params}, x, level=jnp.array([0.0, 7.0]),
                                           rngs=rngs)
    assert out["x_hat"].shape == x.shape
    with pytest.raises(ValueError, match="quality level"):
        AsymmetricModel(vr_config).apply({"params": vr_params}, x, rngs=rngs)
    with pytest.raises(ValueError, match="quality level"):
        AsymmetricModel(tiny_config).apply({"params": tiny_params}, x, level=jnp.zeros(2),
                                           rngs=rngs)


def test_rd_loss_weights_each_example_by_its_lambda():
    x = jnp.stack([jnp.zeros((8, 8, 3)), jnp.ones((8, 8, 3))])
    x_hat = x + jnp.asarray([0.1, 0.2])[:, None, None, None]
    outputs = {"x_hat": x_hat, "pq_loss": jnp.zeros(()),
               "likelihoods": {"y": jnp.full((2, 1, 1, 4), 0.5), "z": jnp.ones((2, 1, 1, 4))}}
    lmbda = jnp.asarray([0.01, 0.1])
    loss, metrics = rd_loss(x, outputs, lmbda)
    expected = np.mean([0.01 * 255**2 * 0.01, 0.1 * 255**2 * 0.04]) + metrics["bpp"]
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    same, _ = rd_loss(x, outputs, jnp.asarray([0.05, 0.05]))
    scalar, _ = rd_loss(x, outputs, 0.05)
    assert float(same) == pytest.approx(float(scalar), rel=1e-6)
    # Per-example weights on lambda * D + rate (4 bits of y over 64 pixels each).
    ones, _ = rd_loss(x, outputs, lmbda, weight=jnp.ones(2))
    assert float(ones) == pytest.approx(float(loss), rel=1e-6)
    weighted, same_metrics = rd_loss(x, outputs, lmbda, weight=jnp.asarray([3.0, 0.5]))
    expected = np.mean([3.0 * (0.01 * 255**2 * 0.01 + 4 / 64),
                        0.5 * (0.1 * 255**2 * 0.04 + 4 / 64)])
    assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    assert float(same_metrics["bpp"]) == float(metrics["bpp"])


def test_train_step_draws_levels_and_differentiates_training_loss(vr_config, vr_params):
    """The step draws per-example levels and differentiates ``training_loss``: one plain
    SGD step of rate 1 moves the parameters by exactly minus its gradient. Given the
    levels that the key would draw, ``training_loss`` is the same function."""
    model, loss = AsymmetricModel(vr_config), LossConfig(0.0, level_lmbdas=QUALITY_LMBDAS)
    batch = jnp.asarray(_image(64, 64)[None].repeat(4, 0), jnp.float32) / 255.0
    rng, tx = jax.random.PRNGKey(3), optax.sgd(1.0)
    new, metrics = jax.jit(make_train_step(model, tx, loss))(
        TrainState.create(vr_params, tx), batch, rng)
    assert np.isfinite(float(metrics["loss"])) and int(new.bad_step) == -1
    key = jax.random.fold_in(rng, 0)
    objective = jax.jit(jax.grad(training_loss, has_aux=True),
                        static_argnames=("model", "loss"))
    grads, own = objective(vr_params, batch, key, 0, model=model, loss=loss)
    assert float(own["loss"]) == pytest.approx(float(metrics["loss"]), rel=1e-6)
    moved = jax.tree.map(lambda a, b: a - b, new.params, vr_params)
    for step_delta, grad in zip(jax.tree.leaves(moved), jax.tree.leaves(grads)):
        np.testing.assert_allclose(step_delta, -grad, rtol=1e-5, atol=1e-7)
    assert np.abs(moved["gain_y"]["log_gain"]).max() > 0
    levels = draw_levels(jax.random.split(key)[1], jnp.arange(4), LEVELS)
    given, _ = objective(vr_params, batch, key, 0, model=model, loss=loss, level=levels)
    assert all(np.array_equal(g, s)
               for g, s in zip(jax.tree.leaves(grads), jax.tree.leaves(given)))
    other, _ = objective(vr_params, batch, key, 0, model=model, loss=loss,
                         level=(levels + 1) % LEVELS)
    assert not np.allclose(other["gain_y"]["log_gain"], grads["gain_y"]["log_gain"])
    with pytest.raises(ValueError, match="rate levels"):
        make_train_step(model, tx, LossConfig(0.01))
    for bad in [(1.0, 2.0), (1.0,) * (LEVELS - 1) + (0.0,)]:
        with pytest.raises(ValueError, match="level_weights"):
            make_train_step(model, tx, LossConfig(0.0, level_lmbdas=QUALITY_LMBDAS,
                                                  level_weights=bad))
    # Level weights scale each example's lambda * D + R (after the PQF phase; the aux
    # loss of the quantiles is not weighted).
    weighted = LossConfig(0.0, level_lmbdas=QUALITY_LMBDAS, level_weights=(2.0,) * LEVELS)
    once, _ = objective(vr_params, batch, key, 20_000, model=model, loss=loss)
    twice, _ = objective(vr_params, batch, key, 20_000, model=model, loss=weighted)
    for (path, g2), g in zip(jax.tree_util.tree_leaves_with_path(twice), jax.tree.leaves(once)):
        if "quantiles" not in jax.tree_util.keystr(path):
            np.testing.assert_allclose(g2, 2 * g, rtol=2e-4, atol=1e-6)


def test_levels_are_stratified_uniform_and_split_invariant():
    key = jax.random.PRNGKey(5)
    ids = jnp.arange(24)
    levels = np.asarray(draw_levels(key, ids, 8))
    for run in levels.reshape(3, 8):  # every run of 8 consecutive ids holds each level once
        assert sorted(run) == list(range(8))
    assert len({tuple(run) for run in levels.reshape(3, 8)}) == 3  # in different orders
    np.testing.assert_array_equal(draw_levels(key, ids[5:13], 8), levels[5:13])
    keys = jax.random.split(jax.random.PRNGKey(6), 400)
    draws = np.asarray(jax.vmap(lambda k: draw_levels(k, jnp.arange(3), 8))(keys))
    counts = np.bincount(draws.ravel(), minlength=8)  # each example's level is uniform
    assert counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()


def test_exact_exp_matches_numpy():
    x = np.random.default_rng(0).uniform(-20, 20, 10_000)
    np.testing.assert_allclose(exact_exp(x), np.exp(x), rtol=3e-16)


def test_host_gains_match_the_model(vr_config, vr_params):
    model = AsymmetricModel(vr_config)
    for quality in (1.0, 3.5, 6.123, 8.0):
        gains = model.apply({"params": vr_params}, jnp.asarray([quality - 1.0]),
                            method=AsymmetricModel.gains)
        host = host_gains(vr_params, quality_code(quality, LEVELS))
        for name in ("y", "y_inverse", "z", "z_inverse"):
            np.testing.assert_allclose(getattr(host, name), getattr(gains, name)[0], rtol=2e-6)


def test_quality_roundtrip_and_header(vr_codec):
    image = _image(70, 90)
    sizes = []
    for quality in (1, 2.5, 8):
        data = vr_codec.compress(image, quality=quality)
        assert bitstream.unpack(data)[0].quality == round(quality * 1000)
        np.testing.assert_array_equal(vr_codec.decode_latents(data),
                                      vr_codec.latents(image, quality))
        assert vr_codec.decompress(data).shape == image.shape
        sizes.append(len(data))
    assert sizes[0] < sizes[-1]
    default = bitstream.unpack(vr_codec.compress(image))[0].quality
    assert default == 6000


@pytest.mark.parametrize("quality", [0.99, 8.01, float("nan"), float("inf")])
def test_quality_out_of_range_is_refused(vr_codec, quality):
    with pytest.raises(ValueError, match="between 1 and 8"):
        vr_codec.compress(_image(16, 16), quality=quality)


def test_fixed_rate_model_takes_no_quality(tiny_config, tiny_params):
    codec = Codec(tiny_config, tiny_params)
    with pytest.raises(ValueError, match="fixed rate"):
        codec.compress(_image(16, 16), quality=3)
    with pytest.raises(ValueError, match="fixed rate"):
        codec.compress(_image(16, 16), target_bpp=1.0)


def test_header_quality_outside_the_model_is_refused(vr_codec):
    header, z_bytes, y_bytes = bitstream.unpack(vr_codec.compress(_image(32, 32), quality=2))
    bad = bitstream.pack(dataclasses.replace(header, quality=9000), z_bytes, y_bytes)
    with pytest.raises(bitstream.BitstreamError, match="quality"):
        vr_codec.decompress(bad)


def test_target_bpp_picks_the_highest_quality_within_budget(vr_codec):
    image = _image(64, 96)
    pixels = image.shape[0] * image.shape[1]
    low = len(vr_codec.compress(image, quality=1)) * 8 / pixels
    high = len(vr_codec.compress(image, quality=8)) * 8 / pixels
    target = (low + high) / 2
    data = vr_codec.compress(image, target_bpp=target)
    assert len(data) * 8 / pixels <= target
    code = bitstream.unpack(data)[0].quality
    above = vr_codec.compress(image, quality=(code + 10) / 1000)
    assert len(above) * 8 / pixels > target
    assert len(vr_codec.compress(image, target_bpp=high + 1)) * 8 / pixels == high
    with pytest.raises(ValueError, match="even quality 1"):
        vr_codec.compress(image, target_bpp=low / 2)
    with pytest.raises(ValueError, match="either quality or target_bpp"):
        vr_codec.compress(image, quality=2, target_bpp=target)


def test_cli_quality_and_target_bpp(tmp_path, vr_codec, capsys):
    from PIL import Image

    weights = tmp_path / "vr.npz"
    vr_codec.save(weights)
    png = tmp_path / "in.png"
    Image.fromarray(_image(40, 60)).save(png)
    out = tmp_path / "out.jlic"
    assert cli_main(["compress", str(png), str(out), "--weights", str(weights),
                     "--quality", "2.25"]) == 0
    assert "quality 2.25" in capsys.readouterr().out
    assert bitstream.unpack(out.read_bytes())[0].quality == 2250
    assert cli_main(["decompress", str(out), str(tmp_path / "out.png"),
                     "--weights", str(weights)]) == 0
    assert cli_main(["compress", str(png), str(out), "--weights", str(weights),
                     "--target-bpp", "100"]) == 0
    assert bitstream.unpack(out.read_bytes())[0].quality == 8000
    capsys.readouterr()
    assert cli_main(["compress", str(png), str(out), "--weights", str(weights),
                     "--quality", "9"]) == 2
    assert "between 1 and 8" in capsys.readouterr().err


def test_eval_measures_each_quality(tmp_path, vr_codec, capsys):
    from PIL import Image

    weights = tmp_path / "vr.npz"
    vr_codec.save(weights)
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(_image(48, 64)).save(images / "a.png")
    assert cli_main(["eval", str(images), str(weights), "--qualities", "1,8", "--name", "vr",
                     "-o", str(tmp_path), "--no-progress"]) == 0
    results = json.loads((tmp_path / "vr.json").read_text())["results"]
    assert results["setting"] == [f"{weights}@q1", f"{weights}@q8"]
    assert results["bpp"][0] < results["bpp"][1]

"""Widening the latent of a trained model (jaxlic.training.widen, train/widen.py): the
widened model computes what the old one did, and a widened run trains on."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic import AsymmetricModel, ModelConfig, init_params
from jaxlic.training.widen import check_widening, widen_moments, widen_params

OLD = ModelConfig(latent_channels=8, ep_hidden=16, rate_levels=3)
NEW = ModelConfig(latent_channels=12, transform_channels=8, ep_hidden=16, rate_levels=3)


@pytest.fixture(scope="module")
def trained_like():
    """Tiny parameters moved away from their initial values (GDNs and gains included), as
    a trained model's are."""
    params = init_params(OLD, jax.random.PRNGKey(0))
    rng = np.random.default_rng(1)
    return jax.tree.map(
        lambda v: (np.asarray(v) * (1 + 0.2 * rng.standard_normal(np.shape(v)))
                   + 0.01 * rng.standard_normal(np.shape(v))).astype(np.float32), params)


def test_widened_model_computes_the_same(trained_like):
    wide = widen_params(trained_like, OLD, NEW, new_gain=1.0)
    x = jnp.asarray(np.random.default_rng(0).random((1, 64, 128, 3)), jnp.float32)
    level = jnp.array([1.5])
    a = AsymmetricModel(OLD).apply({"params": trained_like}, x, train=False, level=level)
    b = AsymmetricModel(NEW).apply({"params": wide}, x, train=False, level=level)
    np.testing.assert_array_equal(a["x_hat"], b["x_hat"])
    np.testing.assert_array_equal(a["likelihoods"]["z"], b["likelihoods"]["z"])
    np.testing.assert_array_equal(a["likelihoods"]["y"], b["likelihoods"]["y"][..., :8])
    # The new channels carry a signal (so that their readers get gradients) ...
    y = AsymmetricModel(NEW).apply({"params": wide}, x, method="analysis")
    assert float(jnp.mean(jnp.abs(y[..., 8:]))) > 0.01 * float(jnp.mean(jnp.abs(y[..., :8])))
    # The head predicts them with zero logits and means and the old channels' mean scale.
    head = wide["entropy_parameters"]["Dense_2"]["kernel"].reshape(16, 3, 3, 12)
    old_head = trained_like["entropy_parameters"]["Dense_2"]["kernel"].reshape(16, 3, 3, 8)
    assert not head[:, :, :2, 8:].any()
    np.testing.assert_allclose(head[:, :, 2, 8:],
                               np.repeat(old_head[:, :, 2].mean(-1, keepdims=True), 4, -1),
                               rtol=1e-6)
    # ... which new_gain scales before quantisation.
    quiet = widen_params(trained_like, OLD, NEW, new_gain=0.01)
    np.testing.assert_allclose(np.exp(quiet["gain_y"]["log_gain"][:, 8:]),
                               0.01 * np.exp(wide["gain_y"]["log_gain"][:, 8:]), rtol=1e-5)


def test_moments_keep_their_places_and_new_entries_are_zero(trained_like):
    moments = jax.tree.map(np.abs, trained_like)
    moments["entropy_bottleneck"] = {k: {} for k in moments["entropy_bottleneck"]}  # masked
    wide = widen_moments(moments, OLD, NEW)
    assert wide["entropy_bottleneck"] == moments["entropy_bottleneck"]
    kernel = wide["entropy_parameters"]["Dense_0"]["kernel"]  # rows [ctx (2M); phi (2M)]
    old = moments["entropy_parameters"]["Dense_0"]["kernel"]
    np.testing.assert_array_equal(kernel[:16], old[:16])
    np.testing.assert_array_equal(kernel[24:40], old[16:])
    assert not kernel[16:24].any() and not kernel[40:].any()
    out = wide["entropy_parameters"]["Dense_2"]["kernel"]  # columns (K, 3, M)
    np.testing.assert_array_equal(out.reshape(16, 9, 12)[..., :8],
                                  moments["entropy_parameters"]["Dense_2"]["kernel"]
                                  .reshape(16, 9, 8))
    assert not out.reshape(16, 9, 12)[..., 8:].any()


@pytest.mark.parametrize("new", [
    ModelConfig(latent_channels=12, ep_hidden=16, rate_levels=3),  # N would grow too
    ModelConfig(latent_channels=6, transform_channels=8, ep_hidden=16, rate_levels=3),
    ModelConfig(latent_channels=12, transform_channels=8, ep_hidden=32, rate_levels=3),
])
def test_only_a_growing_latent_is_accepted(new):
    with pytest.raises(ValueError, match="cannot widen"):
        check_widening(OLD, new)


def test_widened_run_trains_on(tmp_path):
    """A tiny run, widened at its checkpoint, resumes with the wide configuration: same
    step, RNG and data position, CPU hours carried over."""
    from PIL import Image

    from configs import tiny_cpu
    from train import loop
    from train.checkpoint import Checkpointer
    from train.widen import widen_run

    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (72, 80, 3), np.uint8)).save(
            tmp_path / "data" / f"{i}.png")
    config = tiny_cpu.get_config()
    config.data.train_dir = str(tmp_path / "data")
    config.data.num_workers, config.batch_size, config.num_steps = 0, 2, 2
    config.log_every, config.checkpoint_every, config.val.every = 1, 2, 0
    config.progress_bar = False
    narrow = loop.train_and_evaluate(config, tmp_path / "narrow")

    assert widen_run(tmp_path / "narrow", tmp_path / "wide", 24) == 2
    reader = Checkpointer(tmp_path / "wide", read_only=True)
    saved = reader.saved_config(2)
    reader.close()
    assert (saved.model.latent_channels, saved.model.transform_channels) == (24, 16)
    config.model.latent_channels, config.model.transform_channels = 24, 16
    config.num_steps = 3
    wide = loop.train_and_evaluate(config, tmp_path / "wide", resume=True)
    assert int(wide.step) == 3 and int(wide.bad_step) == -1
    assert wide.params["h_s"]["Conv_2"]["kernel"].shape[-1] == 2 * 24
    assert (wide.params["h_a"]["Conv_4"]["kernel"].shape
            == narrow.params["h_a"]["Conv_4"]["kernel"].shape)
    lines = [json.loads(line)
             for line in (tmp_path / "wide/metrics.jsonl").read_text().splitlines()]
    hours = [m["cpu_hours"] for m in lines if m["split"] == "train"]
    assert [m["step"] for m in lines if m["split"] == "train"] == [1, 2, 3]
    assert hours[2] > hours[1] > 0


def test_rated_channels_leave_the_rest_out_of_the_loss_only():
    from jaxlic.losses import rd_loss

    x = jnp.full((1, 16, 16, 3), 0.5)
    likelihood = jnp.concatenate([jnp.full((1, 1, 1, 8), 0.5), jnp.full((1, 1, 1, 4), 0.25)], -1)
    outputs = {"x_hat": x, "likelihoods": {"y": likelihood, "z": jnp.ones((1, 1, 1, 8))},
               "pq_loss": jnp.zeros(())}
    everything, metrics = rd_loss(x, outputs, 0.01)
    rated, rated_metrics = rd_loss(x, outputs, 0.01, rated_channels=8)
    assert float(everything) == pytest.approx((8 + 4 * 2) / 256)
    assert float(rated) == pytest.approx(8 / 256)
    assert float(rated_metrics["bpp_y"]) == float(metrics["bpp_y"])

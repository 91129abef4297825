"""The whole model: parameter counts (spec 3.10), shapes, size checks, complexity report."""

import json

import jax
import jax.numpy as jnp
import pytest

from jaxlic import AsymmetricModel, ModelConfig
from jaxlic.cli import main as cli_main
from jaxlic.models.complexity import macs_per_pixel, parameter_counts


@pytest.mark.parametrize("preset, expected", [("n128", 11.36e6), ("n256", 41.99e6)])
def test_parameter_count_matches_spec(preset, expected):
    total = sum(parameter_counts(ModelConfig.preset(preset)).values())
    assert abs(total - expected) / expected < 0.01


def test_component_counts_n128():
    counts = parameter_counts(ModelConfig.n128())
    assert counts["entropy_bottleneck"] == 46 * 128
    assert counts["pqf"] == 10 * 128
    assert counts["context"] == 25 * 128 * 256 + 256
    assert counts["entropy_parameters"] == 512 * 640 + 640 + 640 * 640 + 640 + 640 * 1152


@pytest.mark.parametrize("h, w", [(64, 64), (128, 192)])
def test_forward_shapes(tiny_config, tiny_params, h, w):
    model = AsymmetricModel(tiny_config)
    x = jnp.zeros((2, h, w, 3))
    rngs = {"noise": jax.random.PRNGKey(0)}
    out = jax.eval_shape(lambda p, x: model.apply({"params": p}, x, rngs=rngs), tiny_params, x)
    n = tiny_config.latent_channels
    assert out["x_hat"].shape == (2, h, w, 3)
    assert out["likelihoods"]["y"].shape == (2, h // 16, w // 16, n)
    assert out["likelihoods"]["z"].shape == (2, h // 64, w // 64, n)
    assert out["pq_loss"].shape == ()


def test_latent_wider_than_the_transforms():
    """M (latent_channels) channels in y, phi and the gains; N (transform_channels) in z."""
    config = ModelConfig(latent_channels=24, transform_channels=16, ep_hidden=48, rate_levels=2)
    model = AsymmetricModel(config)
    params = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "noise":
                                                jax.random.PRNGKey(0)},
                                               jnp.zeros((1, 64, 64, 3)), level=jnp.zeros(1)))
    out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((1, 128, 64, 3)), level=jnp.zeros(1),
                                               rngs={"noise": jax.random.PRNGKey(0)}), params)
    assert out["likelihoods"]["y"].shape == (1, 8, 4, 24)
    assert out["likelihoods"]["z"].shape == (1, 2, 1, 16)
    p = params["params"]
    assert p["g_a"]["DownBlock_0"]["Conv_0"]["kernel"].shape[-1] == 16
    assert p["h_s"]["Conv_2"]["kernel"].shape[-1] == 48
    assert p["gain_y"]["log_gain"].shape == (2, 24) and p["gain_z"]["log_gain"].shape == (2, 16)
    assert p["g_s"]["UpBlock_0"]["Conv_1"]["kernel"].shape[-2:] == (24, 64)  # 3x3 to 4N
    assert p["g_s"]["UpBlock_0"]["Conv_2"]["kernel"].shape[-2:] == (16, 16)
    # The complexity report takes variable-rate and wide models too.
    narrow = ModelConfig(latent_channels=16, ep_hidden=48, rate_levels=2)
    assert macs_per_pixel(config)["context"] == 1.5 ** 2 * macs_per_pixel(narrow)["context"]


def test_forward_values_are_sane(tiny_config, tiny_params):
    model = AsymmetricModel(tiny_config)
    x = jax.random.uniform(jax.random.PRNGKey(0), (1, 64, 64, 3))
    out = model.apply({"params": tiny_params}, x, train=False)
    for lik in out["likelihoods"].values():
        assert bool(jnp.all((lik > 0) & (lik <= 1)))
    assert bool(jnp.all(jnp.isfinite(out["x_hat"])))


@pytest.mark.parametrize("h, w", [(65, 64), (64, 100), (32, 32)])
def test_sizes_not_multiple_of_64_are_rejected(tiny_config, tiny_params, h, w):
    model = AsymmetricModel(tiny_config)
    with pytest.raises(ValueError, match="multiple of 64"):
        model.apply({"params": tiny_params}, jnp.zeros((1, h, w, 3)), train=False)


def test_config_presets_and_roundtrip():
    assert ModelConfig.n128().latent_channels == 128
    assert ModelConfig.n256().latent_channels == 256
    cfg = ModelConfig.tiny()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    # An unset transform_channels is left out, so that older models keep their dict (and
    # their model ids); a set one is written and read back.
    assert "transform_channels" not in cfg.to_dict() and cfg.transform_width == 16
    wide = ModelConfig(latent_channels=32, transform_channels=16)
    assert wide.to_dict()["transform_channels"] == 16 and wide.transform_width == 16
    assert ModelConfig.from_dict(wide.to_dict()) == wide
    assert ModelConfig(latent_channels=16, transform_channels=16, ep_hidden=48) == cfg
    with pytest.raises(ValueError, match="transform_channels"):
        ModelConfig(latent_channels=32, transform_channels=15)
    with pytest.raises(ValueError):
        ModelConfig.preset("n512")
    with pytest.raises(ValueError):
        ModelConfig(latent_channels=7)


def test_info_cli_json(capsys):
    assert cli_main(["info", "--config", "n128", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"]["total"] == sum(
        v for k, v in info["parameters"].items() if k != "total")
    macs = info["macs_per_pixel"]
    # spec 3.10: g_a about 91 GMAC and g_s about 61 GMAC (conv only) on 768x512
    assert 225e3 < macs["g_a"] < 260e3
    assert 150e3 < macs["g_s"] < 175e3
    assert macs["encoder"] > macs["decoder"]


def test_info_of_a_weights_file_counts_the_gain_units(tmp_path, capsys):
    import dataclasses

    from jaxlic import Codec

    config = dataclasses.replace(ModelConfig.tiny(), rate_levels=3)
    Codec.random(config).save(tmp_path / "vr.npz")
    assert cli_main(["info", "--weights", str(tmp_path / "vr.npz"), "--json"]) == 0
    params = json.loads(capsys.readouterr().out)["parameters"]
    n = config.latent_channels
    assert params["gain_y"] == params["gain_z"] == 2 * 3 * n  # gain and inverse gain
    assert params["total"] == sum(v for k, v in params.items() if k != "total")
    assert params["total"] == sum(parameter_counts(dataclasses.replace(config, rate_levels=0)
                                                   ).values()) + 4 * 3 * n


def test_info_refuses_a_preset_with_weights(capsys):
    assert cli_main(["info", "--config", "tiny", "--model", "x"]) == 2
    assert "--config" in capsys.readouterr().err

"""Training configurations: the paper's eleven settings, the CPU ones, the GPU lease,
command-line overrides."""

import pathlib

import pytest
from absl import flags
from ml_collections import config_flags

from jaxlic import ModelConfig

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"
PAPER = {  # file -> (N, distortion, lambda), spec section 5.2
    "n128_mse_0016": (128, "mse", 0.0016), "n128_mse_0032": (128, "mse", 0.0032),
    "n128_mse_0075": (128, "mse", 0.0075), "n256_mse_015": (256, "mse", 0.015),
    "n256_mse_023": (256, "mse", 0.023), "n256_mse_030": (256, "mse", 0.03),
    "n256_mse_045": (256, "mse", 0.045), "n128_msssim_12": (128, "ms-ssim", 12.0),
    "n128_msssim_40": (128, "ms-ssim", 40.0), "n256_msssim_80": (256, "ms-ssim", 80.0),
    "n256_msssim_120": (256, "ms-ssim", 120.0),
}


def _load(name, *overrides):
    """``name`` is a file of configs/ without .py, optionally with ``:argument``."""
    file, colon, argument = name.partition(":")
    argv = ["prog", f"--config={CONFIGS / file}.py{colon}{argument}", *overrides]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True,
                                    sys_argv=argv)  # as train/main.py does with sys.argv
    values(argv)
    return values.config


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_settings(name):
    c = _load(name)
    assert (c.model.latent_channels, c.distortion, c.lmbda) == PAPER[name]
    assert ModelConfig.from_dict(c.model.to_dict()) == ModelConfig.preset(f"n{PAPER[name][0]}")
    assert (c.batch_size, c.data.crop_size, c.num_steps, c.pq_steps) == (8, 256, 1_500_000, 20_000)
    assert (c.optim.lr, c.optim.first_halving, c.optim.halving_every) == (1e-4, 850_000, 100_000)
    assert c.optim.aux_multiplier == 10 and c.optim.clip_norm is None


def test_every_config_file_is_covered():
    files = {p.stem for p in CONFIGS.glob("*.py")} - {"__init__", "default"}
    assert files == set(PAPER) | {"tiny_cpu", "variable_rate_n64", "lease"}


@pytest.mark.parametrize("name,base", [("lease", "variable_rate_n64"),
                                       ("lease:tiny_cpu", "tiny_cpu")])
def test_lease_setting_keeps_its_base_model_objective_and_optimiser(name, base):
    c, b = _load(name), _load(base)
    assert (c.model, c.optim, c.lmbda, c.level_lmbdas) == (b.model, b.optim, b.lmbda,
                                                           b.level_lmbdas)
    assert c.data.device_resident and c.time_budget > 0 and c.max_skipped_steps > 0
    assert (c.data.train_dir, c.val.dir) == (".gpu/data", ".gpu/val")


def test_variable_rate_setting():
    c = _load("variable_rate_n64")
    model = ModelConfig.from_dict(c.model.to_dict())
    assert model.latent_channels == 64 and model.rate_levels == len(c.level_lmbdas) == 8
    assert list(c.level_lmbdas) == sorted(c.level_lmbdas) and c.level_lmbdas[0] == 0.0018
    assert c.optim.clip_norm == 1.0 and c.optim.warmup > 0 and 0 < c.optim.ema_decay < 1


def test_command_line_overrides():
    c = _load("tiny_cpu", "--config.lmbda=0.05", "--config.optim.clip_norm=1.0",
              "--config.model.use_pqf=False", "--config.data.train_dir=/data")
    assert (c.lmbda, c.optim.clip_norm, c.model.use_pqf, c.data.train_dir) == (
        0.05, 1.0, False, "/data")
    assert c.model.latent_channels == ModelConfig.tiny().latent_channels
    assert c.data.crop_size == 64
    with pytest.raises(AttributeError, match='Did you mean "lmbda"'):
        _load("tiny_cpu", "--config.lmbd=0.05")

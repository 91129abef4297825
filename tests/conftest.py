"""Shared fixtures. Tests run on CPU with tiny models; compiled programs are cached on
disk for the whole run so that xdist workers and subprocesses share them."""

from __future__ import annotations

import os
import pathlib

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
KODAK = SHARED / "data" / "kodak"
BSDS = SHARED / "data" / "bsds500"
REFERENCE = SHARED / "reference"

_CACHE = ROOT / ".pytest_cache" / "jax"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


@pytest.fixture(scope="session")
def tiny_config():
    from jaxlic import ModelConfig

    return ModelConfig.tiny()


@pytest.fixture(scope="session")
def tiny_params(tiny_config):
    from jaxlic import init_params

    return init_params(tiny_config, jax.random.PRNGKey(0))


@pytest.fixture(scope="session")
def kodak_image():
    """kodim23 as a uint8 [512, 768, 3] array."""
    import numpy as np
    from PIL import Image

    path = KODAK / "kodim23.png"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return np.asarray(Image.open(path).convert("RGB"))

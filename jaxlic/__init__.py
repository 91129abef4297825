"""jaxlic: learned image compression in JAX/Flax.

The asymmetric codec of Fu et al. 2022 (multi-scale residual blocks, importance map,
post-quantisation filter) on the Cheng et al. 2020 entropy model, with real bitstreams.

The names below are imported on first use, so that ``import jaxlic.cli`` does not start
JAX (the command sets up its allocator first, ``jaxlic.cli.allocator``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxlic.coding import BitstreamError, Codec, Refinement, WeightsError
    from jaxlic.models import AsymmetricModel, ModelConfig, init_params

__version__ = "0.1.0"

_HOMES = {"AsymmetricModel": "jaxlic.models", "BitstreamError": "jaxlic.coding",
          "Codec": "jaxlic.coding", "ModelConfig": "jaxlic.models",
          "Refinement": "jaxlic.coding", "WeightsError": "jaxlic.coding",
          "init_params": "jaxlic.models"}

__all__ = [*sorted(_HOMES), "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'jaxlic' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})

"""Registry of the trained weights shipped inside the package.

``index.json`` lists each model (file, configuration preset, lambda, distortion, model
card) and names the default; ``load(name)`` returns a ready ``Codec``. A model is only
listed once it has been trained and measured (see its card in ``cards/``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jaxlic.coding import Codec

_PACKAGE = "jaxlic.zoo"


def _index() -> dict[str, Any]:
    return json.loads(resources.files(_PACKAGE).joinpath("index.json").read_text())


def available() -> dict[str, dict[str, Any]]:
    """Name -> description of every shipped model."""
    return _index()["models"]


def default_name() -> str | None:
    """Name of the model the CLI uses without ``--weights`` (None if none is shipped)."""
    return _index().get("default")


def load(name: str | None = None) -> Codec:
    """The codec of a shipped model (the default one without a name)."""
    name = name or default_name()
    models = available()
    if name is None:
        raise LookupError("this jaxlic build ships no trained weights yet; pass a weights "
                          "file (--weights FILE) or train one (see README, Training)")
    if name not in models:
        raise LookupError(f"unknown model {name!r}; shipped models: {sorted(models) or 'none'}")
    entry = models[name]
    with resources.as_file(resources.files(_PACKAGE).joinpath("weights", entry["file"])) as path:
        return Codec.load(path)

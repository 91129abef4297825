"""Release weights: one ``.npz`` file with the model configuration, the parameters and the
integer coding data (z tables, the integer entropy model of ``jaxlic.coding.exact``); and
the model identifier written into every bitstream.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from typing import Any

import jax
import numpy as np

from jaxlic.models import ModelConfig
from jaxlic.models.asymmetric import param_shapes

FORMAT = "jaxlic-weights"
VERSION = 2  # 2: integer arrays keep their dtype; the exact entropy model is stored
READABLE = (1, 2)  # version 1 files lack the exact model; the codec derives it
_META = "meta.json"
_PARAMS = "params/"
_TABLES = "tables/"


class WeightsError(ValueError):
    """A weights file is unreadable, of another format, or does not fit its configuration."""


def _by_path(tree: Any) -> dict[str, Any]:
    """Leaves keyed by their ``/``-joined dict path, sorted."""
    return dict(sorted(("/".join(str(k.key) for k in path), leaf)
                       for path, leaf in jax.tree_util.tree_leaves_with_path(tree)))


def _flatten(tree: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in _by_path(tree).items()}


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Parameter path -> shape for ``config`` (computed abstractly)."""
    return {k: tuple(v.shape) for k, v in _by_path(param_shapes(config)).items()}


def _unflatten(flat: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def _integer(value: np.ndarray) -> np.ndarray:
    """An int32 or int64 table as little-endian; ``ValueError`` for any other dtype."""
    value = np.asarray(value)
    if value.dtype not in (np.int32, np.int64):
        raise ValueError(f"coding tables must be int32 or int64, not {value.dtype}")
    return np.ascontiguousarray(value, value.dtype.newbyteorder("<"))


def model_id(config: ModelConfig, params: Any, tables: dict[str, np.ndarray]) -> bytes:
    """8-byte identifier: SHA-256 of the configuration, the float32 parameters and the
    integer tables (names, dtypes, shapes and values)."""
    h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    for key, value in _flatten(params).items():
        h.update(key.encode())
        h.update(np.ascontiguousarray(value, "<f4").tobytes())
    for key in sorted(tables):
        value = _integer(tables[key])
        h.update(f"{key}:{value.dtype.str}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.digest()[:8]


def save(path: str | os.PathLike, config: ModelConfig, params: Any,
         tables: dict[str, np.ndarray], param_dtype: str = "float32",
         extra: dict[str, Any] | None = None) -> None:
    """Write one weights file (atomically: a temporary file renamed into place)."""
    if param_dtype not in ("float32", "float16"):
        raise ValueError(f"param_dtype must be float32 or float16, got {param_dtype!r}")
    meta = {"format": FORMAT, "version": VERSION, "config": config.to_dict(),
            "param_dtype": param_dtype, **(extra or {})}
    arrays = {_META: np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)}
    arrays.update({_PARAMS + k: v.astype(param_dtype) for k, v in _flatten(params).items()})
    arrays.update({_TABLES + k: _integer(v) for k, v in tables.items()})
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def read_config(path: str | os.PathLike) -> ModelConfig:
    """The model configuration of a weights file, without reading its parameters."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz[_META].tobytes())
        return ModelConfig.from_dict(meta["config"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as e:
        raise WeightsError(f"cannot read the configuration of weights file {path}: {e}") from e


def load(path: str | os.PathLike) -> tuple[ModelConfig, dict, dict[str, np.ndarray], dict]:
    """Read a weights file: ``(config, float32 params, tables, meta)``.

    Raises ``WeightsError`` if the file is unreadable, of another format or version, or
    its parameters do not have exactly the shapes its configuration requires.
    """
    if not os.path.isfile(path):
        raise WeightsError(f"no such weights file: {path}")
    # np.load takes anything that is not an archive for a pickle and says so; a weights
    # file is always an .npz (zip) archive.
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path} is not a jaxlic weights file, or a truncated one (weights "
                           "files are .npz archives written by Codec.save or train.export)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise WeightsError(f"cannot read weights file {path}: {e}") from e
    if _META not in arrays:
        raise WeightsError(f"{path} is not a jaxlic weights file (no {_META})")
    try:
        meta = json.loads(arrays.pop(_META).tobytes())
        config = ModelConfig.from_dict(meta["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path}: bad metadata: {e}") from e
    if meta.get("format") != FORMAT or meta.get("version") not in READABLE:
        raise WeightsError(f"{path}: unsupported format {meta.get('format')} "
                           f"version {meta.get('version')}")
    flat = {k[len(_PARAMS):]: v.astype(np.float32) for k, v in arrays.items()
            if k.startswith(_PARAMS)}
    tables = {k[len(_TABLES):]: v for k, v in arrays.items() if k.startswith(_TABLES)}
    odd = sorted(k for k, v in tables.items() if v.dtype not in (np.int32, np.int64))[:3]
    if odd:
        raise WeightsError(f"{path}: coding tables {odd} are not int32 or int64")
    expected = expected_shapes(config)
    got = {k: v.shape for k, v in flat.items()}
    if got != expected:
        missing = sorted(set(expected) - set(got))[:3]
        unexpected = sorted(set(got) - set(expected))[:3]
        wrong = [k for k in expected if k in got and got[k] != expected[k]][:3]
        raise WeightsError(f"{path}: parameters do not match its configuration {config}: "
                           f"missing {missing}, unexpected {unexpected}, wrong shape {wrong}")
    return config, _unflatten(flat), tables, meta

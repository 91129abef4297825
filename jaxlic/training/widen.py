"""Widening a trained model's latent: more channels of y, with the model's function kept.

``widen_params`` turns the parameters of a model with M latent channels into those of
the same model with M' > M (``ModelConfig.latent_channels``; the transforms keep their
width N, so ``transform_channels`` must be set to the old N). The old channels keep
their places and weights. Every weight that reads a new channel starts at zero, so the
reconstruction, z and the likelihoods of the old channels do not change. Every weight
that writes a new channel starts random (a LeCun-normal draw), so that the new channels
carry a signal from the first step and the gradients that reach the zero weights are not
zero: training then decides how much of the new capacity to use.
The exceptions are chosen for a sensible start of the new channels: the entropy head
predicts them with equal weights, zero means and, per component, the old channels' mean
scale output, the post-quantisation filter passes them through, and their gains and
inverse gains start at the means of the old channels' (the gains times ``new_gain``, so
that the new channels start at almost no rate).

This is net2net-style growth (Chen et al. 2016, "Net2Net"), built because the model
trained for many CPU hours at M = N = 64 sits at its transforms' ceiling: the unquantised
autoencoder is only about 0.1 dB above the finest quality. Measured on the 2-core CPU
(docs/training.md): the widening is exact, but in 1,900 steps the rate term kept the new
channels dormant. ``widen_moments`` places Adam's moments the same way, with zeros for
the new entries.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np

from jaxlic.layers import gdn
from jaxlic.models.asymmetric import param_shapes
from jaxlic.models.config import ModelConfig

Path = tuple[str, ...]
_HEAD_INPUT = ("entropy_parameters", "Dense_0", "kernel")  # rows [ctx (2M); phi (2M)]
_HEAD_OUTPUT = ("entropy_parameters", "Dense_2", "kernel")  # columns (K, 3, M)


def widened_config(old: ModelConfig, latent_channels: int) -> ModelConfig:
    """``old`` with ``latent_channels`` latent channels and its transforms' width kept."""
    return ModelConfig.from_dict({**old.to_dict(), "latent_channels": latent_channels,
                                  "transform_channels": old.transform_width})


def check_widening(old: ModelConfig, new: ModelConfig) -> None:
    """Raise ``ValueError`` unless ``new`` is ``old`` with more latent channels only."""
    if (new.latent_channels <= old.latent_channels
            or new != widened_config(old, new.latent_channels)):
        raise ValueError(f"cannot widen {old.to_dict()} into {new.to_dict()}: only "
                         "latent_channels may change, it must grow, and transform_channels "
                         f"must stay {old.transform_width}")


def _axis_map(path: Path, axis: int, old_size: int, new_size: int,
              old: ModelConfig, new: ModelConfig) -> np.ndarray:
    """New indices of the old entries along one axis of parameter ``path``."""
    m, m2 = old.latent_channels, new.latent_channels
    if old_size == new_size:
        return np.arange(old_size)
    if path == _HEAD_INPUT and axis == 0:  # the phi half moves up by 2 (M' - M)
        return np.concatenate([np.arange(2 * m), 2 * m2 + np.arange(2 * m)])
    if path == _HEAD_OUTPUT and axis == 1:  # K * 3 groups of M channels each
        groups = 3 * old.mixture_components
        return np.add.outer(np.arange(groups) * m2, np.arange(m)).ravel()
    if new_size * m != old_size * m2:
        raise ValueError(f"parameter {'/'.join(path)}: axis {axis} grows from {old_size} to "
                         f"{new_size}, not in the ratio {m2}/{m} of the latent")
    return np.arange(old_size)


def _place(path: Path, value: np.ndarray, start: np.ndarray, old: ModelConfig,
           new: ModelConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """``start`` with ``value`` written at the old entries' new places; also the maps."""
    maps = [_axis_map(path, a, value.shape[a], start.shape[a], old, new)
            for a in range(value.ndim)]
    out = start.copy()
    out[np.ix_(*maps)] = value
    return out, maps


def _new_param(path: Path, value: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator,
               old: ModelConfig, new: ModelConfig, new_gain: float) -> np.ndarray:
    name = path[-1]
    if path[0] in ("gain_y", "gain_z") and name in ("log_gain", "log_inverse"):
        # Only the gain is scaled: an inverse gain scaled up as well would amplify the
        # quantisation noise that g_s reads from the new channels.
        offset = np.log(new_gain) if name == "log_gain" else 0.0
        start = np.repeat(value.mean(axis=1, keepdims=True) + offset, shape[1], axis=1)
        return _place(path, value, start, old, new)[0]
    if name == "beta":  # GDN: the stored form of 1
        return _place(path, value, np.full(shape, np.sqrt(1.0 + gdn.PEDESTAL)), old, new)[0]
    if name == "gamma":  # GDN: the stored form of 0.1 on the diagonal, 0 elsewhere
        start = np.full(shape, np.sqrt(gdn.PEDESTAL))
        np.fill_diagonal(start, np.sqrt(0.1 + gdn.PEDESTAL))
        return _place(path, value, start, old, new)[0]
    if name == "bias":
        return _place(path, value, np.zeros(shape), old, new)[0]
    if name != "kernel" or len(shape) < 2:
        raise ValueError(f"do not know how to widen parameter {'/'.join(path)}")
    if path[0] == "pqf":  # depthwise [3, 3, 1, M]: the identity filter
        start = np.zeros(shape)
        start[1, 1] = 1.0
    elif path == _HEAD_OUTPUT:  # zero logits and means; each component's mean scale
        groups = 3 * old.mixture_components
        start = np.zeros((shape[0], groups, shape[1] // groups))
        scales = value.reshape(shape[0], groups, -1)[:, 2::3]
        start[:, 2::3] = scales.mean(axis=-1, keepdims=True)
        start = start.reshape(shape)
    else:
        start = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
    out, maps = _place(path, value, start, old, new)
    reads_new = np.setdiff1d(np.arange(shape[-2]), maps[-2])
    out[..., reads_new, :] = 0.0
    return out


def _map_leaves(tree: Any, fn: Callable[[Path, Any], Any], path: Path = ()) -> Any:
    """``fn(path, leaf)`` on every leaf of a nested dict; empty dicts (optax's masked
    entries in a saved state) stay as they are."""
    if isinstance(tree, dict):
        return {k: _map_leaves(v, fn, path + (str(k),)) for k, v in tree.items()}
    return fn(path, tree)


@functools.lru_cache(maxsize=4)  # once per config: the parameters and each moment tree
def _new_shapes(new: ModelConfig) -> dict[Path, tuple[int, ...]]:
    """Path -> shape of every parameter of ``new`` (read-only: the dict is shared)."""
    flat = jax.tree_util.tree_flatten_with_path(param_shapes(new))[0]
    return {tuple(str(k.key) for k in path): tuple(leaf.shape) for path, leaf in flat}


def widen_params(params: dict, old: ModelConfig, new: ModelConfig, seed: int = 0,
                 new_gain: float = 1.0) -> dict:
    """The parameters of ``new`` (``old`` with more latent channels, see
    ``check_widening``) that compute what ``params`` of ``old`` compute; float32 numpy."""
    check_widening(old, new)
    rng = np.random.default_rng(seed)
    shapes = _new_shapes(new)

    def widen(path: Path, value: Any) -> np.ndarray:
        if path not in shapes:
            raise ValueError(f"parameter {'/'.join(path)} is not one of the model's")
        value = np.asarray(value, np.float32)
        if value.shape == shapes[path]:
            return value
        return _new_param(path, value, shapes[path], rng, old, new, new_gain).astype(np.float32)

    return _map_leaves(params, widen)


def widen_moments(moments: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """An optimiser's parameter-shaped state (e.g. Adam's ``mu`` or ``nu``, a tree like the
    parameters; masked entries may be empty dicts) for ``new``: the old values at their
    new places, zeros for the new entries."""
    check_widening(old, new)
    shapes = _new_shapes(new)

    def widen(path: Path, value: Any) -> np.ndarray:
        value = np.asarray(value)
        if value.shape == shapes[path]:
            return value
        return _place(path, value, np.zeros(shapes[path], value.dtype), old, new)[0]

    return _map_leaves(moments, widen)

"""Data parallelism over the local devices: ``pmap`` around the library's pure step.

The step's gradients and metrics are averaged over the ``"batch"`` axis, which spans every
device of every host once ``jax.distributed`` is initialised.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.jax_utils
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlic import AsymmetricModel
from jaxlic.training import LossConfig, make_train_step

AXIS = "batch"


def make_parallel_step(model: AsymmetricModel, tx: optax.GradientTransformation,
                       loss: LossConfig) -> Callable:
    """``(state [D], images uint8 [D, b, H, W, 3], rng) -> (state [D], metrics [D])``.

    D is the number of local devices; the state is donated. Images are scaled to [0, 1]
    on the device; ``rng`` is one key shared by all devices.
    """
    step = make_train_step(model, tx, loss, axis_name=AXIS)

    def scaled_step(state, images, rng):
        return step(state, images.astype(jnp.float32) / 255.0, rng)

    return jax.pmap(scaled_step, axis_name=AXIS, in_axes=(0, 0, None), donate_argnums=0)


def replicate(tree: Any) -> Any:
    """One copy of every leaf per local device: leaves ``[...] -> [D, ...]``.

    Laid out as the step's own outputs are, so that the first and later steps share one
    compiled program."""
    return flax.jax_utils.replicate(tree, axis_name=AXIS)


def unreplicate(tree: Any) -> Any:
    """The first device's copy, fetched to the host as numpy: leaves ``[D, ...] -> [...]``.

    Reads one shard per leaf (no device computation, no copy of the other replicas)."""
    shards = jax.device_get(jax.tree_util.tree_map(lambda x: x.addressable_shards[0].data, tree))
    return jax.tree_util.tree_map(lambda x: x[0], shards)


def split_batch(images: np.ndarray, num_devices: int) -> np.ndarray:
    """``[B, ...] -> [num_devices, B / num_devices, ...]`` (B must be divisible)."""
    if images.shape[0] % num_devices:
        raise ValueError(f"batch of {images.shape[0]} cannot be split over {num_devices} devices")
    return images.reshape(num_devices, -1, *images.shape[1:])


def host_batch_size(global_batch: int) -> int:
    """This host's share of the global batch; it must split evenly over all devices."""
    devices = jax.device_count()
    if global_batch % devices:
        raise ValueError(f"batch_size {global_batch} is not divisible by the {devices} devices "
                         f"of {jax.process_count()} host(s)")
    return global_batch // jax.process_count()

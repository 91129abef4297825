"""Data parallelism over the local devices: ``pmap`` around the library's pure step.

The step's gradients and metrics are averaged over the ``"batch"`` axis, which spans every
device of every host once ``jax.distributed`` is initialised. Both steps here add the
metric ``skipped``: 1 if the step's loss or gradients were not finite, so that its update
was skipped (parameters and optimiser state unchanged), else 0.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.jax_utils
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlic import AsymmetricModel
from jaxlic.training import LossConfig, TrainState, make_train_step
from train.input_pipeline import ImagePool, sample_crops

AXIS = "batch"
CROP_STREAM = 0x63726F70  # folded into the step key for the crops of the device-resident data


def _scaled_counting_step(model: AsymmetricModel, tx: optax.GradientTransformation,
                          loss: LossConfig, ema_decay: float) -> Callable:
    """The library step on uint8 images, with the ``skipped`` metric.

    ``bad_step`` keeps its meaning (the first non-finite step of the run, -1 if none)."""
    step = make_train_step(model, tx, loss, axis_name=AXIS, ema_decay=ema_decay)

    def counting_step(state: TrainState, images: jax.Array, rng: jax.Array):
        fresh = state.replace(bad_step=jnp.full_like(state.bad_step, -1))
        new, metrics = step(fresh, images.astype(jnp.float32) / 255.0, rng)
        metrics["skipped"] = (new.bad_step >= 0).astype(jnp.float32)
        first_bad = jnp.where(state.bad_step >= 0, state.bad_step, new.bad_step)
        return new.replace(bad_step=first_bad), metrics

    return counting_step


def make_parallel_step(model: AsymmetricModel, tx: optax.GradientTransformation,
                       loss: LossConfig, ema_decay: float = 0.0) -> Callable:
    """``(state [D], images uint8 [D, b, H, W, 3], rng) -> (state [D], metrics [D])``.

    D is the number of local devices; the state is donated. Images are scaled to [0, 1]
    on the device; ``rng`` is one key shared by all devices. ``ema_decay``: see
    ``jaxlic.training.train_step``.
    """
    return jax.pmap(_scaled_counting_step(model, tx, loss, ema_decay), axis_name=AXIS,
                    in_axes=(0, 0, None), donate_argnums=0)


def make_pool_step(model: AsymmetricModel, tx: optax.GradientTransformation, loss: LossConfig,
                   device_batch: int, crop: int, flip: bool, ema_decay: float = 0.0) -> Callable:
    """``(state [D], pool [D], rng) -> (state [D], metrics [D])`` on device-resident data.

    Each device samples ``device_batch`` crops from its copy of the ``ImagePool``
    (``replicate`` it once); the crop of the example with global index ``e`` depends only
    on ``rng``, the step and ``e``, not on how the batch is split over devices.
    """
    step = _scaled_counting_step(model, tx, loss, ema_decay)

    def pool_step(state: TrainState, pool: ImagePool, rng: jax.Array):
        example_ids = jax.lax.axis_index(AXIS) * device_batch + jnp.arange(device_batch)
        key = jax.random.fold_in(jax.random.fold_in(rng, CROP_STREAM), state.step)
        return step(state, sample_crops(pool, key, example_ids, crop, flip), rng)

    return jax.pmap(pool_step, axis_name=AXIS, in_axes=(0, 0, None), donate_argnums=0)


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

"""Quantisation proxies: additive uniform noise for training, rounding for coding."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def add_uniform_noise(x: jax.Array, rng: jax.Array,
                      example_ids: jax.Array | None = None) -> jax.Array:
    """``x + u`` with ``u ~ U(-1/2, 1/2)`` i.i.d. per element (the training proxy of rounding).

    With ``example_ids [B]`` the noise of ``x[b]`` is drawn from ``fold_in(rng, ids[b])``,
    so it does not depend on which other examples share the batch.
    """
    if example_ids is None:
        return x + jax.random.uniform(rng, x.shape, x.dtype, -0.5, 0.5)
    keys = jax.vmap(lambda i: jax.random.fold_in(rng, i))(example_ids)
    noise = jax.vmap(lambda k: jax.random.uniform(k, x.shape[1:], x.dtype, -0.5, 0.5))(keys)
    return x + noise


def round_about(x: jax.Array, center: jax.Array | float = 0.0) -> jax.Array:
    """Round ``x`` to the integer grid offset by ``center``: ``floor(x - c + 1/2) + c``."""
    return jnp.floor(x - center + 0.5) + center

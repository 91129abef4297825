"""Quantisation proxies: additive uniform noise for training, stochastic Gumbel annealing
for latent refinement, rounding for coding."""

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


def gumbel_rounding(x: jax.Array, rng: jax.Array, temperature: jax.Array | float,
                    center: jax.Array | float = 0.0) -> jax.Array:
    """A relaxed random rounding of ``x`` to the grid offset by ``center`` (stochastic
    Gumbel annealing, Yang et al. 2020): a Gumbel-softmax draw between the two grid points
    around each element, the nearer one likelier (logits ``-atanh(distance) /
    temperature``). Differentiable in ``x``; as ``temperature -> 0`` it becomes rounding.
    """
    u = x - center
    below = jnp.floor(u)
    distance = jnp.stack([u - below, below + 1.0 - u], axis=-1)  # to the grid point below, above
    logits = -jnp.arctanh(jnp.clip(distance, 0.0, 1.0 - 1e-5)) / temperature
    gumbel = jax.random.gumbel(rng, logits.shape, logits.dtype)
    weight_above = jax.nn.softmax((logits + gumbel) / temperature, axis=-1)[..., 1]
    return below + weight_above + center


def round_about(x: jax.Array, center: jax.Array | float = 0.0) -> jax.Array:
    """Round ``x`` to the integer grid offset by ``center``: ``floor(x - c + 1/2) + c``."""
    return jnp.floor(x - center + 0.5) + center

"""Generalised divisive normalisation (Ballé et al. 2016) with tfc's reparameterisation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from jaxlic.ops.math import lower_bound

PEDESTAL = 2.0**-36  # tfc reparam_offset**2 with reparam_offset = 2**-18


def _reparam_init(value_fn):
    """Initialiser storing ``sqrt(value + pedestal)`` so that the effective value is ``value``."""

    def init(key, shape, dtype=jnp.float32):
        del key
        return jnp.sqrt(value_fn(shape, dtype) + PEDESTAL)

    return init


def _reparam_value(param: jax.Array, minimum: float) -> jax.Array:
    """Effective value ``max(param, sqrt(minimum + pedestal))**2 - pedestal`` (non-negative)."""
    return lower_bound(param, float((minimum + PEDESTAL) ** 0.5)) ** 2 - PEDESTAL


class GDN(nn.Module):
    """GDN, or its inverse (IGDN), over the last axis.

    ``y_i = x_i / sqrt(beta_i + sum_j gamma[j, i] * x_j**2)``; IGDN multiplies instead.
    ``beta`` starts at 1 and is bounded below by ``beta_min``; ``gamma`` starts at
    ``gamma_init * I`` and stays non-negative. ``C + C**2`` parameters for ``C`` channels.

    Input and output: ``[..., C]``.
    """

    inverse: bool = False
    beta_min: float = 1e-6
    gamma_init: float = 0.1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        beta_param = self.param(
            "beta", _reparam_init(lambda s, d: jnp.ones(s, d)), (channels,)
        )
        gamma_param = self.param(
            "gamma",
            _reparam_init(lambda s, d: self.gamma_init * jnp.eye(s[0], dtype=d)),
            (channels, channels),
        )
        beta = _reparam_value(beta_param, self.beta_min).astype(x.dtype)
        gamma = _reparam_value(gamma_param, 0.0).astype(x.dtype)
        norm = jnp.einsum("...j,ji->...i", x * x, gamma) + beta
        return x * jnp.sqrt(norm) if self.inverse else x * jax.lax.rsqrt(norm)

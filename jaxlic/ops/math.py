"""Numerically careful elementwise functions."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

_INV_SQRT2 = 0.7071067811865476


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def lower_bound(x: jax.Array, bound: float) -> jax.Array:
    """``max(x, bound)`` whose gradient still flows when it points back above the bound.

    This is tensorflow-compression's ``lower_bound`` ("identity if towards"): below the
    bound the gradient is kept only where a descent step would increase ``x``, so a
    parameter pushed under the bound can recover instead of being stuck with a zero
    gradient. Used for the GDN reparameterisation, the GMM scale bound and the 1e-9
    likelihood bound of the factorised prior.
    """
    return jnp.maximum(x, bound)


def _lower_bound_fwd(x, bound):
    return jnp.maximum(x, bound), x


def _lower_bound_bwd(bound, x, g):
    pass_through = (x >= bound) | (g < 0)
    return (jnp.where(pass_through, g, jnp.zeros_like(g)),)


lower_bound.defvjp(_lower_bound_fwd, _lower_bound_bwd)


def std_normal_cdf(x: jax.Array) -> jax.Array:
    """Standard normal CDF, ``0.5 * erfc(-x / sqrt(2))``: accurate far into the left tail."""
    return 0.5 * lax.erfc(-x * _INV_SQRT2)


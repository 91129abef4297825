"""Factorised (non-parametric) prior for the hyper latent z (Ballé et al. 2018, tfc defaults).

The density math is plain ``jnp`` over a parameter dict; ``EntropyBottleneck`` only
declares the parameters. Per channel the cumulative is a small monotone MLP
``1 -> 3 -> 3 -> 3 -> 1`` with softplus weights and tanh gates.
"""

from __future__ import annotations

import math
from typing import Mapping

import jax
import jax.numpy as jnp
import flax.linen as nn

from jaxlic.layers import init
from jaxlic.ops.math import lower_bound

FILTERS = (3, 3, 3)
INIT_SCALE = 10.0
TAIL_MASS = 2.0**-8
LIKELIHOOD_BOUND = 1e-9

Params = Mapping[str, jax.Array]


def logits_cumulative(params: Params, x: jax.Array, stop_gradient: bool = False) -> jax.Array:
    """Logit of the learned per-channel CDF at ``x``: ``[C, M] -> [C, M]``."""
    h = x[:, None, :]  # [C, 1, M]
    n = len(FILTERS) + 1
    for i in range(n):
        matrix, bias = params[f"matrix_{i}"], params[f"bias_{i}"]
        if stop_gradient:
            matrix, bias = jax.lax.stop_gradient(matrix), jax.lax.stop_gradient(bias)
        h = jnp.matmul(jax.nn.softplus(matrix), h) + bias
        if i < n - 1:
            factor = params[f"factor_{i}"]
            if stop_gradient:
                factor = jax.lax.stop_gradient(factor)
            h = h + jnp.tanh(factor) * jnp.tanh(h)
    return h[:, 0, :]


def _channels_first(z: jax.Array) -> jax.Array:
    return jnp.moveaxis(z, -1, 0).reshape(z.shape[-1], -1)


def bin_probability(params: Params, z: jax.Array) -> jax.Array:
    """Unbounded mass of the unit bin centred at ``z``, ``[..., C] -> [..., C]``.

    Uses the sign-flip trick: both CDF values are taken on the side of the median where
    the sigmoid is far from saturation, so the difference keeps its precision.
    """
    v = _channels_first(z.astype(jnp.float32))
    lower = logits_cumulative(params, v - 0.5)
    upper = logits_cumulative(params, v + 0.5)
    sign = jax.lax.stop_gradient(-jnp.sign(lower + upper))
    p = jnp.abs(jax.nn.sigmoid(sign * upper) - jax.nn.sigmoid(sign * lower))
    return jnp.moveaxis(p.reshape((z.shape[-1],) + z.shape[:-1]), 0, -1)


def likelihood(params: Params, z: jax.Array) -> jax.Array:
    """Bin mass bounded below by 1e-9 (gradient passes when pointing up), ``[..., C]``."""
    return lower_bound(bin_probability(params, z), LIKELIHOOD_BOUND)


def aux_loss(params: Params) -> jax.Array:
    """Quantile loss: drives ``quantiles[c] = (q_low, median, q_high)`` to the CDF levels
    ``(tail/2, 1/2, 1 - tail/2)``. Only the quantiles get gradient. Scalar."""
    target = math.log(2.0 / TAIL_MASS - 1.0)
    logits = logits_cumulative(params, params["quantiles"], stop_gradient=True)
    return jnp.sum(jnp.abs(logits - jnp.array([-target, 0.0, target])))


def medians(params: Params) -> jax.Array:
    """Per-channel median ``[C]``; z is rounded on the integer grid shifted by it."""
    return params["quantiles"][:, 1]


class EntropyBottleneck(nn.Module):
    """Declares the factorised prior's parameters for ``channels`` channels.

    Calling it returns the likelihood of ``z_tilde`` (``[..., C] -> [..., C]``); the
    parameters are ``matrix_i [C, f_out, f_in]``, ``bias_i [C, f_out, 1]``,
    ``factor_i [C, f_out, 1]`` and ``quantiles [C, 3]`` (46 per channel).
    """

    channels: int

    def setup(self):
        dims = (1,) + FILTERS + (1,)
        scale = INIT_SCALE ** (1.0 / (len(FILTERS) + 1))
        c = self.channels
        density = {}
        for i in range(len(dims) - 1):
            matrix_init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            density[f"matrix_{i}"] = self.param(
                f"matrix_{i}", nn.initializers.constant(matrix_init), (c, dims[i + 1], dims[i]))
            density[f"bias_{i}"] = self.param(
                f"bias_{i}", init.uniform(-0.5, 0.5), (c, dims[i + 1], 1))
            if i < len(FILTERS):
                density[f"factor_{i}"] = self.param(
                    f"factor_{i}", nn.initializers.zeros, (c, dims[i + 1], 1))
        density["quantiles"] = self.param(
            "quantiles",
            lambda key, shape: jnp.tile(jnp.array([-INIT_SCALE, 0.0, INIT_SCALE]), (shape[0], 1)),
            (c, 3))
        self.density = density

    def __call__(self, z_tilde: jax.Array) -> jax.Array:
        return likelihood(self.density, z_tilde)

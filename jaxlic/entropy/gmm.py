"""Discretised Gaussian mixture for y_hat (Cheng et al. 2020; spec section 4).

Plain ``jnp`` functions over the mixture parameters, plus the Flax entropy-parameter
head that produces them. Shapes: ``y [..., C]``, parameters ``[..., K, C]``.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlic.layers import init
from jaxlic.layers.conv import leaky_relu
from jaxlic.ops.math import lower_bound, std_normal_cdf

SCALE_BOUND = 0.11
LIKELIHOOD_BOUND = 1e-6
TAIL_LOW = -254.5  # below: the bin takes all the mass under it (the "robust" tails)
TAIL_HIGH = 255.5  # above: all the mass over it


class Mixture(NamedTuple):
    """GMM parameters, each ``[..., K, C]``: softmax weights, means, scales (> 0)."""

    weights: jax.Array
    means: jax.Array
    scales: jax.Array


def mixture_from_raw(raw: jax.Array, components: int, scale_bound: float = SCALE_BOUND) -> Mixture:
    """Split the head output ``[..., 3*K*C]`` into a ``Mixture``.

    Channel layout (as in the reference): 3K contiguous groups of C channels ordered
    ``logit_0, mean_0, scale_0, logit_1, ...``; ``scale = max(|s|, scale_bound)``.
    """
    c = raw.shape[-1] // (3 * components)
    r = raw.astype(jnp.float32).reshape(raw.shape[:-1] + (components, 3, c))
    weights = jax.nn.softmax(r[..., 0, :], axis=-2)
    scales = lower_bound(jnp.abs(r[..., 2, :]), scale_bound)
    return Mixture(weights, r[..., 1, :], scales)


def bin_mass(y: jax.Array, mix: Mixture, tail_low: float = TAIL_LOW,
             tail_high: float = TAIL_HIGH) -> jax.Array:
    """Mixture mass of the unit bin around ``y`` with open-ended tail bins. ``[..., C]``.

    Inside ``[tail_low, tail_high]`` each component uses the symmetric form
    ``Phi((1/2 - |y - mu|)/s) - Phi((-1/2 - |y - mu|)/s)``, accurate in float32 far from
    the mean; below ``tail_low`` the bin takes the whole lower tail, above ``tail_high``
    the whole upper tail, so the masses over a support from one tail bin to the other
    sum to one.
    """
    yk = y[..., None, :]
    d = jnp.abs(yk - mix.means)
    center = std_normal_cdf((0.5 - d) / mix.scales) - std_normal_cdf((-0.5 - d) / mix.scales)
    lower = std_normal_cdf((yk + 0.5 - mix.means) / mix.scales)
    upper = std_normal_cdf((mix.means - yk + 0.5) / mix.scales)
    per_component = jnp.where(yk < tail_low, lower, jnp.where(yk > tail_high, upper, center))
    return jnp.sum(mix.weights * per_component, axis=-2)


def likelihood(y: jax.Array, mix: Mixture) -> jax.Array:
    """``bin_mass`` clamped to ``[1e-6, 1]`` (zero gradient outside, as in the reference)."""
    return jnp.clip(bin_mass(y, mix), LIKELIHOOD_BOUND, 1.0)


class EntropyParameters(nn.Module):
    """1x1 head ``4C -> hidden -> hidden -> 3KC`` (LeakyReLU, LeakyReLU, none; last without bias).

    Acts on the last axis, so it serves both full tensors ``[B, H, W, 4C]`` and gathered
    positions ``[P, 4C]``.
    """

    latent_channels: int
    components: int = 3
    hidden: int = 640

    def setup(self):
        self.hidden_0 = nn.Dense(self.hidden, kernel_init=init.lecun_normal(), name="Dense_0")
        self.hidden_1 = nn.Dense(self.hidden, kernel_init=init.lecun_normal(), name="Dense_1")
        self.out = nn.Dense(3 * self.components * self.latent_channels, use_bias=False,
                            kernel_init=init.lecun_normal(), name="Dense_2")

    def __call__(self, features: jax.Array) -> jax.Array:
        return self.out(leaky_relu(self.hidden_1(leaky_relu(self.hidden_0(features)))))

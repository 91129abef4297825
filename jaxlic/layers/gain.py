"""Gain units for one model at many rates (Cui et al. 2021, "Asymmetric Gained Deep Image
Compression With Continuous Rate Adaptation").

A variable-rate model keeps, for each of L quality levels, a per-channel gain vector that
scales a latent before quantisation and an inverse-gain vector applied after it. Between
two neighbouring levels the vectors are interpolated exponentially (linearly in the log
domain), which gives a continuous rate scale.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

# Initial log-gain step between neighbouring levels. CompressAI's eight MSE lambdas grow by
# a factor of about 1.93 per quality; at high rate the best quantisation step scales as
# lambda**-1/2, so the gains start sqrt(1.93) apart: log(1.93) / 2 = 0.33.
INIT_LOG_STEP = 0.33


def interpolation(level: jax.Array, levels: int) -> tuple[jax.Array, jax.Array]:
    """``(index, t)`` with ``level = index + t``, ``index`` in ``0..levels-2`` and ``t`` in
    [0, 1]: the pair of neighbouring levels and the weight of the upper one. ``level [B]``
    is clipped to ``[0, levels - 1]``."""
    level = jnp.clip(jnp.asarray(level, jnp.float32), 0.0, levels - 1.0)
    index = jnp.clip(jnp.floor(level), 0, levels - 2).astype(jnp.int32)
    return index, level - index


def interpolate_log(table: jax.Array, level: jax.Array) -> jax.Array:
    """Row ``level`` of ``table [L, C]`` by linear interpolation: ``[B] -> [B, C]``."""
    index, t = interpolation(level, table.shape[0])
    return (1.0 - t)[:, None] * table[index] + t[:, None] * table[index + 1]


def initial_log_gains(levels: int, channels: int) -> np.ndarray:
    """``[L, C]`` log-gains spaced ``INIT_LOG_STEP`` apart and centred on zero."""
    steps = np.arange(levels, dtype=np.float32) - (levels - 1) / 2.0
    return np.repeat((INIT_LOG_STEP * steps)[:, None], channels, axis=1)


class GainUnit(nn.Module):
    """Gain and inverse gain of one latent for ``levels`` quality levels.

    Parameters ``log_gain`` and ``log_inverse`` (``[L, C]``) start at +-``initial_log_gains``
    (level 0 coarsest). ``__call__(level [B] float in [0, L-1]) -> (gain, inverse)``, each
    ``[B, C]`` and positive.
    """

    levels: int
    channels: int

    @nn.compact
    def __call__(self, level: jax.Array) -> tuple[jax.Array, jax.Array]:
        start = initial_log_gains(self.levels, self.channels)
        log_gain = self.param("log_gain", lambda key, shape: jnp.asarray(start), start.shape)
        log_inverse = self.param("log_inverse", lambda key, shape: jnp.asarray(-start),
                                 start.shape)
        return (jnp.exp(interpolate_log(log_gain, level)),
                jnp.exp(interpolate_log(log_inverse, level)))

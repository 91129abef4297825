"""Integer coding tables of the hyper latent z, and the table precision shared with y.

Every probability that reaches the coder is an integer frequency >= 1, and each table
sums to exactly ``2**PRECISION``. The z tables are built once from the factorised prior
when weights are saved and stored with them; the y tables are combined from stored
integer tables at coding time (``jaxlic.coding.exact.mixture``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.entropy import factorized

PRECISION = 22
MAX_Z_SUPPORT = 1023  # symbols per channel in a z table (the rest is escaped)


def quantize_pmf(pmf: jax.Array, precision: int = PRECISION,
                 anchor: int | None = None) -> jax.Array:
    """Probabilities ``[..., A]`` -> int32 frequencies ``>= 1`` summing to ``2**precision``.

    ``floor(p * (2**precision - A)) + 1`` per symbol (after clearing negative and NaN
    entries and normalising); the remainder, between 0 and A, goes to symbol ``anchor``
    (default: the most probable one; a fixed index avoids a slow arg-max on XLA:CPU).
    """
    total = 1 << precision
    size = pmf.shape[-1]
    pmf = jnp.where(pmf > 0, pmf, 0.0)
    norm = jnp.sum(pmf, axis=-1, keepdims=True)
    pmf = pmf / jnp.where(norm > 0, norm, 1.0)
    freq = jnp.floor(pmf * (total - size)).astype(jnp.int32) + 1
    remainder = total - jnp.sum(freq, axis=-1, keepdims=True)
    target = jnp.argmax(pmf, axis=-1)[..., None] if anchor is None else anchor
    return freq + jnp.where(jnp.arange(size) == target, remainder, 0)


@dataclasses.dataclass(frozen=True)
class ZTables:
    """Integer tables of the factorised prior, one row per channel.

    Attributes:
      frequencies: ``[C, S + 1]`` int32; column ``j < lengths[c]`` codes the value
        ``offsets[c] + j`` (relative to the channel median), the last column is the
        escape for values outside the table; columns in between are padding.
      offsets: ``[C]`` int32, the value of column 0 (``<= 0``).
      lengths: ``[C]`` int32, number of table values per channel.
    """

    frequencies: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def build_z_tables(eb_params: dict) -> ZTables:
    """Tables of the entropy bottleneck between its learned tail quantiles.

    Built once per set of weights, on the host, and stored with them; values more than
    ``MAX_Z_SUPPORT // 2`` away from the median always use the escape.
    """
    q = np.asarray(eb_params["quantiles"], np.float32)
    med = q[:, 1]
    half = MAX_Z_SUPPORT // 2
    below = np.clip(np.ceil(med - q[:, 0]), 0, half).astype(np.int32)
    above = np.clip(np.ceil(q[:, 2] - med), 0, half).astype(np.int32)
    lengths = below + above + 1
    width = int(lengths.max())
    values = np.arange(width, dtype=np.float32)[None, :] - below[:, None]  # [C, S]
    inside = np.arange(width)[None, :] < lengths[:, None]
    pmf = np.asarray(factorized.bin_probability(eb_params, (values + med[:, None]).T)).T
    lower = _tail_mass(eb_params, med - below - 0.5, upper=False)
    upper = _tail_mass(eb_params, med + above + 0.5, upper=True)
    escape = np.clip(lower + upper, 0.0, 1.0)
    pmf = np.concatenate([np.where(inside, pmf, 0.0), escape[:, None]], axis=1)
    freqs = np.asarray(quantize_pmf(jnp.asarray(pmf, jnp.float32)))
    return ZTables(freqs, -below, lengths)


def _tail_mass(eb_params: dict, x: np.ndarray, upper: bool) -> np.ndarray:
    """Prior mass below (or above) ``x [C]``, one value per channel."""
    logits = factorized.logits_cumulative(eb_params, jnp.asarray(x, jnp.float32)[:, None])
    return np.asarray(jax.nn.sigmoid(-logits if upper else logits))[:, 0]

"""The Gaussian mixture in integers: quantised parameters, stored component tables, and
the combination into coding tables.

Each component's scale is rounded to a log-spaced grid, its mean to an integer plus a
phase on a grid of ``2**phase_bits[scale]`` steps (finer for narrow components), and the
three softmax weights to integers summing to ``2**WEIGHT_BITS`` (an exp table of the logit
differences and one integer division). For every (scale, phase) pair the table holds the
component's CDF at the half-integer boundaries around its mean, in ``CDF_BITS`` fixed
point, computed once in float64 when the weights are saved and stored with them. The
mixture CDF at a boundary is ``sum_k w_k * cdf_k``, an integer below ``2**30``; a monotone
integer map turns it into frequencies that are all >= 1 and sum to exactly
``2**PRECISION``. Everything after the table look-ups is int32 arithmetic, so the jitted
``frequencies`` gives the same integers on every backend and with any XLA flags.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.coding.exact.head import RAW_FRAC
from jaxlic.coding.gains import exact_exp
from jaxlic.coding.tables import PRECISION

CDF_BITS = 18  # component CDF tables: integers in [0, 2**18]
WEIGHT_BITS = 12  # mixture weights: non-negative integers summing to 2**12
EXP_FRAC = 8  # logit differences are looked up on a grid of 2**-8
_MIX_BITS = CDF_BITS + WEIGHT_BITS  # the mixture CDF is an integer in [0, 2**30]
_LOW = 15  # split point of the monotone 2**30 -> 2**22 - A map (see _cumulative)
_BUCKET_BITS = 6  # scale look-up buckets of 2**6 raw units hold at most one threshold


@dataclasses.dataclass(frozen=True)
class MixtureGrid:
    """Build-time resolution of the quantised mixture (the file stores the result).

    Attributes:
      scale_min, scale_max: first and last grid scale; smaller predicted scales use the
        first, larger ones the last.
      ratio: ratio of neighbouring grid scales (the rate cost of the rounding is about
        ``ln(ratio)**2 / 12`` nats per symbol).
      phases: mean phases per standard deviation, rounded up to a power of two per scale
        and capped at ``2**max_phase_bits``.
    """

    scale_min: float = 0.11
    scale_max: float = 256.0
    ratio: float = 1.02
    phases: float = 16.0
    max_phase_bits: int = 8


@dataclasses.dataclass(frozen=True)
class MixtureTables:
    """Integer tables of the quantised mixture.

    Attributes:
      thresholds: ``[S - 1]`` int32, increasing: a raw scale ``s`` (``RAW_FRAC`` fixed
        point) uses grid scale ``i`` = the number of thresholds ``<= |s|``.
      phase_bits: ``[S]`` int32, mean phases of scale ``i`` are ``j / 2**phase_bits[i]``.
      half_width: ``[S]`` int32 ``L``: rows of scale ``i`` hold the CDF at the ``2L``
        boundaries ``mean_int + d + 1/2``, ``d`` in ``[-L, L)``, between a leading 0 and a
        trailing ``2**CDF_BITS`` (the saturated values outside).
      offsets: ``[S]`` int32, where the rows of scale ``i`` start in ``cdf``; row of phase
        ``j`` at ``offsets[i] + j * (2L + 2)``.
      cdf: flat int32 rows.
      exp: ``[E]`` int32, ``round(2**16 * exp(-j / 2**EXP_FRAC))``.
    """

    thresholds: np.ndarray
    phase_bits: np.ndarray
    half_width: np.ndarray
    offsets: np.ndarray
    cdf: np.ndarray
    exp: np.ndarray

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {prefix + f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "MixtureTables":
        """Read and validate the tables; ``ValueError`` if inconsistent."""
        t = cls(**{f.name: np.asarray(arrays[prefix + f.name], np.int32)
                   for f in dataclasses.fields(cls)})
        rows = (np.left_shift(1, t.phase_bits.astype(np.int64))
                * (2 * t.half_width.astype(np.int64) + 2))
        ends = t.offsets.astype(np.int64) + rows
        if not (t.thresholds.size + 1 == t.phase_bits.size == t.half_width.size == t.offsets.size
                and t.thresholds.size >= 1 and t.thresholds[0] > 0
                and np.all(np.diff(t.thresholds) >= 1 << _BUCKET_BITS)
                and np.all(t.phase_bits >= 0)
                and np.all(t.phase_bits <= RAW_FRAC - 1) and np.all(t.half_width >= 1)
                and np.all(t.offsets >= 0) and np.all(ends <= t.cdf.size)
                and t.cdf.min(initial=0) >= 0 and t.cdf.max(initial=0) <= 1 << CDF_BITS
                and t.exp.size >= 1 and t.exp[0] == 1 << 16 and np.all(np.diff(t.exp) <= 0)
                and t.exp.min() >= 0):
            raise ValueError("inconsistent mixture tables")
        return t

    def device(self) -> "DeviceTables":
        """The tables as device arrays for ``frequencies``, with a scale look-up index."""
        buckets = np.arange((int(self.thresholds[-1]) >> _BUCKET_BITS) + 2, dtype=np.int64)
        first = np.searchsorted(self.thresholds, buckets << _BUCKET_BITS, side="right")
        sentinel = np.append(self.thresholds, np.iinfo(np.int32).max).astype(np.int32)
        return DeviceTables(*(jnp.asarray(a) for a in (
            sentinel, first.astype(np.int32), self.phase_bits, self.half_width, self.offsets,
            self.cdf, self.exp)))


class DeviceTables(NamedTuple):
    """``MixtureTables`` on the device. ``thresholds`` ends with a sentinel ``2**31 - 1``;
    ``first[b]`` is the number of thresholds ``<= b * 2**_BUCKET_BITS``."""

    thresholds: jax.Array
    first: jax.Array
    phase_bits: jax.Array
    half_width: jax.Array
    offsets: jax.Array
    cdf: jax.Array
    exp: jax.Array


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF in float64 (``erfc``, accurate in both tails)."""
    return 0.5 * np.vectorize(math.erfc)(-np.asarray(x, np.float64) / math.sqrt(2.0))


def build_tables(grid: MixtureGrid = MixtureGrid()) -> MixtureTables:
    """Compute the tables of ``grid`` (host float64; done once, when weights are saved)."""
    count = math.ceil(math.log(grid.scale_max / grid.scale_min) / math.log(grid.ratio)) + 1
    scales = grid.scale_min * grid.ratio ** np.arange(count)
    mid = grid.scale_min * grid.ratio ** (np.arange(1, count) - 0.5)
    thresholds = np.ceil(np.ldexp(mid, RAW_FRAC)).astype(np.int64)
    phase_bits = np.clip(np.ceil(np.log2(grid.phases / scales)), 0, grid.max_phase_bits)
    # Beyond z_max standard deviations a component's CDF rounds to 0 or 2**CDF_BITS.
    z_max = next(z / 8 for z in range(1, 400) if _normal_cdf(-z / 8) * 2**CDF_BITS < 0.5)
    half_width = np.ceil(z_max * scales + 1.0).astype(np.int64)
    rows, offsets, start = [], [], 0
    for sigma, bits, width in zip(scales, phase_bits.astype(np.int64), half_width):
        phase = np.arange(1 << bits)[:, None] / float(1 << bits)
        d = np.arange(-width, width)[None, :]
        inner = np.rint(np.ldexp(_normal_cdf((d + 0.5 - phase) / sigma), CDF_BITS))
        block = np.concatenate([np.zeros((len(phase), 1)), inner,
                                np.full((len(phase), 1), 2.0**CDF_BITS)], axis=1)
        rows.append(block.ravel())
        offsets.append(start)
        start += block.size
    n_exp = math.ceil(math.log(2.0**17) * 2**EXP_FRAC) + 1
    exp = np.rint(np.ldexp(exact_exp(-np.arange(n_exp) / 2.0**EXP_FRAC), 16))
    return MixtureTables(thresholds.astype(np.int32), phase_bits.astype(np.int32),
                         half_width.astype(np.int32), np.asarray(offsets, np.int32),
                         np.concatenate(rows).astype(np.int32), exp.astype(np.int32))


@functools.partial(jax.jit, static_argnames=("components", "radius"))
def frequencies(raw: jax.Array, tables: DeviceTables, components: int, radius: int
                ) -> jax.Array:
    """Coding tables from raw mixture parameters, in int32 only.

    Args:
      raw: ``[P, 3Kn]`` int32, the head's output layout (``K`` groups of logits, means,
        scales of n channels each), ``RAW_FRAC`` fixed point, magnitudes <= 2**30.
      tables: ``MixtureTables.device()``.
      components: K; radius: R, symbols ``-R..R``.

    Returns:
      ``[P, n, 2R + 1]`` int32 frequencies >= 1 summing to ``2**PRECISION``; the edge
      symbols take the whole tails.
    """
    i32 = jnp.int32
    p = raw.shape[0]
    r = raw.astype(i32).reshape(p, components, 3, -1)
    logits, means, scales = r[:, :, 0], r[:, :, 1], r[:, :, 2]  # [P, K, n]
    weights = _weights(logits, tables.exp)
    s = _scale_index(jnp.abs(scales), tables)
    bits = tables.phase_bits[s]
    width = tables.half_width[s]
    grid = (means + jnp.left_shift(i32(1), RAW_FRAC - 1 - bits)) >> (RAW_FRAC - bits)
    mean_int = grid >> bits
    phase = grid - (mean_int << bits)
    base = tables.offsets[s] + phase * (2 * width + 2)
    d = jnp.arange(-radius, radius, dtype=i32) - mean_int[..., None]  # [P, K, n, 2R]
    column = jnp.clip(d + width[..., None] + 1, 0, 2 * width[..., None] + 1)
    cdf = tables.cdf[base[..., None] + column]
    mixture = jnp.sum(weights[..., None] * cdf, axis=1)  # [P, n, 2R], <= 2**30
    size = 2 * radius + 1
    cumulative = _cumulative(mixture, size)
    zero = jnp.zeros(cumulative.shape[:-1] + (1,), i32)
    top = jnp.full(cumulative.shape[:-1] + (1,), (1 << PRECISION) - size, i32)
    return jnp.diff(jnp.concatenate([zero, cumulative, top], axis=-1), axis=-1) + 1


def _scale_index(magnitude: jax.Array, tables: DeviceTables) -> jax.Array:
    """Number of thresholds ``<= magnitude`` (int32 >= 0): the bucket's count plus the one
    threshold its 2**_BUCKET_BITS values may contain (thresholds are further apart)."""
    bucket = jnp.minimum(magnitude >> _BUCKET_BITS, tables.first.shape[0] - 1)
    first = tables.first[bucket]
    return first + (magnitude >= tables.thresholds[first]).astype(jnp.int32)


def _weights(logits: jax.Array, exp: jax.Array) -> jax.Array:
    """Integer softmax over axis 1: ``[P, K, n]`` -> weights >= 0 summing to 2**WEIGHT_BITS;
    the rounding remainder goes to the first largest logit."""
    i32 = jnp.int32
    diff = jnp.max(logits, axis=1, keepdims=True) - logits  # >= 0, < 2**31
    step = RAW_FRAC - EXP_FRAC
    index = jnp.minimum((diff >> step) + ((diff >> (step - 1)) & 1), exp.shape[0] - 1)
    e = exp[index]  # <= 2**16; the largest logit gets exactly 2**16
    weights = jnp.left_shift(e, WEIGHT_BITS) // jnp.sum(e, axis=1, keepdims=True)
    remainder = (1 << WEIGHT_BITS) - jnp.sum(weights, axis=1, keepdims=True)
    first = jnp.argmin(diff, axis=1)[:, None]
    k = jnp.arange(logits.shape[1], dtype=i32)[None, :, None]
    return weights + jnp.where(k == first, remainder, i32(0))


def _cumulative(mixture: jax.Array, size: int) -> jax.Array:
    """Monotone map of mixture CDF values in ``[0, 2**30]`` onto ``[0, 2**PRECISION - size]``
    in int32: ``(c >> 8) - (((c >> 15) * size) >> 15)``.

    ``c >> 8`` grows by at most one per unit of ``c``; the subtracted term grows by at most
    one (``size < 2**15``) and only when ``c`` crosses a multiple of ``2**15``, where
    ``c >> 8`` grows too; so the map never decreases, and it sends ``2**30`` to
    ``2**22 - size``. Adding one to every difference then gives frequencies >= 1 that sum
    to exactly ``2**22``.
    """
    shift = _MIX_BITS - PRECISION
    return (mixture >> shift) - (((mixture >> _LOW) * size) >> (_MIX_BITS - _LOW))

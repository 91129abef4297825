"""Integer linear layers, evaluated exactly in float64 (NumPy, or XLA on the CPU).

A layer holds an integer kernel and bias and a power-of-two output scale per output
channel. Its input is an integer tensor (a fixed-point activation), so every product
and every partial sum of ``x @ kernel + bias`` is an integer; the kernel is scaled at
build time so that ``sum_i |kernel[i, o]| * in_limit + |bias[o]| < 2**52`` for every
output channel ``o``. Any partial sum, in any order and with or without fused
multiply-add, is then an integer below 2**53 and so exact in float64: the result does not
depend on the BLAS or XLA kernel, the thread count, the blocking, the batch, the CPU or
compiler flags such as fast-math (which may reorder or fuse exact operations only).

Requantisation multiplies by a power of two (exact), adds 1/2 and floors (exact for
integers below 2**52), then clamps. LeakyReLU is an integer multiply and shift. The same
code runs on NumPy arrays and, traced with ``xp=jax.numpy`` under 64-bit mode, in XLA.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ACT_BITS = 26  # activations are integers of magnitude below 2**26
ACT_LIMIT = float(2**ACT_BITS - 1)
ACC_LIMIT = float(2**52)  # bound on every accumulator (and so every partial sum)
HEADROOM_BITS = 8  # an activation may exceed its estimated magnitude 256-fold unclamped
LEAKY_NUM, LEAKY_SHIFT = 13107, 16  # LeakyReLU slope 13107 / 2**16 = 0.19999695
MAX_SHIFT = 60  # exponents stay far from float64 under- and overflow


def frac_bits(estimate: float) -> int:
    """Fractional bits of an activation whose magnitude is about ``estimate``: the largest
    that leaves ``HEADROOM_BITS`` of headroom under ``ACT_LIMIT``."""
    return int(ACT_BITS - HEADROOM_BITS - math.ceil(math.log2(max(estimate, 2.0**-30))))


def round_half_up(x: Any, xp: Any = np) -> Any:
    """``floor(x + 1/2)`` in float64 (exact for the integers and dyadic values used here)."""
    return xp.floor(x + 0.5)


def leaky_relu(x: Any, xp: Any = np) -> Any:
    """Integer LeakyReLU: negative values times ``LEAKY_NUM / 2**LEAKY_SHIFT``, rounded."""
    return xp.where(x < 0, round_half_up(x * (LEAKY_NUM * 2.0**-LEAKY_SHIFT), xp), x)


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["kernel", "bias", "shift", "limit"],
                   meta_fields=["leaky", "frac_out"])
@dataclasses.dataclass(frozen=True)
class IntLinear:
    """``y = clamp(round(x @ kernel + bias) * 2**-shift)`` per output channel, then LeakyReLU.

    Attributes:
      kernel: ``[fan_in, out]`` float64 holding integers (int32 range).
      bias: ``[out]`` float64 holding integers.
      shift: ``[out]`` int32; output channel ``o`` is the accumulator times ``2**-shift[o]``.
      limit: outputs are clamped to ``[-limit, limit]`` (an integer).
      leaky: apply the integer LeakyReLU after clamping.
      frac_out: fractional bits of the output (its value is ``y * 2**-frac_out``).
    """

    kernel: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    limit: float
    leaky: bool
    frac_out: int

    def products(self, x: Any, xp: Any = np) -> Any:
        """``x [..., fan_in] @ kernel`` (exact integers; the bias is added by ``output``)."""
        if xp is np:
            return x @ self.kernel
        return jnp.dot(x, self.kernel, precision=jax.lax.Precision.HIGHEST)

    def output(self, products: Any, xp: Any = np) -> Any:
        """Requantised activation ``[..., out]`` from summed products (without the bias)."""
        scale = xp.ldexp(xp.ones_like(self.bias), -self.shift)
        y = xp.clip(round_half_up((products + self.bias) * scale, xp), -self.limit, self.limit)
        return leaky_relu(y, xp) if self.leaky else y

    def __call__(self, x: Any, xp: Any = np) -> Any:
        return self.output(self.products(x, xp), xp)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The layer as integer arrays for a weights file."""
        return {prefix + "kernel": self.kernel.astype(np.int32),
                prefix + "bias": self.bias.astype(np.int64),
                prefix + "shift": self.shift.astype(np.int32),
                prefix + "limit": np.asarray([self.limit], np.int64),
                prefix + "leaky": np.asarray([self.leaky], np.int32),
                prefix + "frac_out": np.asarray([self.frac_out], np.int32)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "IntLinear":
        """Inverse of ``arrays``; ``ValueError`` if the stored layer breaks the bound."""
        layer = cls(arrays[prefix + "kernel"].astype(np.float64),
                    arrays[prefix + "bias"].astype(np.float64),
                    arrays[prefix + "shift"].astype(np.int32),
                    float(arrays[prefix + "limit"][0]), bool(arrays[prefix + "leaky"][0]),
                    int(arrays[prefix + "frac_out"][0]))
        if layer.bias.shape != layer.kernel.shape[1:] or layer.shift.shape != layer.bias.shape:
            raise ValueError(f"{prefix}: inconsistent shapes")
        return layer

    def check(self, in_limit: float) -> None:
        """Raise ``ValueError`` unless every accumulator stays below ``ACC_LIMIT`` for inputs
        of magnitude at most ``in_limit``, and requantisation only rounds (``shift >= 0``:
        ``acc * 2**-shift`` then stays below 2**52 as well). Checked in int64."""
        if not (np.all(_worst(self.kernel, self.bias, in_limit) < int(ACC_LIMIT))
                and np.all(self.shift >= 0)
                and np.all(self.shift <= MAX_SHIFT) and 0 < self.limit <= ACC_LIMIT):
            raise ValueError("integer layer could exceed exact float64 arithmetic")


def quantize_linear(kernel: np.ndarray, bias: np.ndarray | None, frac_in: int, frac_out: int,
                    in_limit: float, limit: float = ACT_LIMIT, leaky: bool = False) -> IntLinear:
    """Quantise a float layer ``x @ kernel + bias`` for fixed-point input and output.

    Args:
      kernel: ``[fan_in, out]`` float weights; bias: ``[out]`` or None.
      frac_in, frac_out: fractional bits of the input and output activations.
      in_limit: largest input magnitude (integer units) the bound must hold for.
      limit, leaky: output clamp and activation (see ``IntLinear``).

    Each output channel gets the finest power-of-two weight scale ``2**e`` whose worst-case
    accumulator stays below ``ACC_LIMIT``; the bias is quantised at the accumulator's scale
    ``2**(e + frac_in)``.
    """
    w = np.asarray(kernel, np.float64)
    b = np.zeros(w.shape[1]) if bias is None else np.asarray(bias, np.float64)
    worst = np.abs(w).sum(0) * in_limit + np.abs(b) * 2.0**frac_in
    room = ACC_LIMIT / np.where(worst > 0, worst, ACC_LIMIT)
    # An all-zero channel outputs 0 at any scale: give it the one that needs no shift.
    exponent = np.where(worst > 0, np.floor(np.log2(room)) - 1, frac_out - frac_in)
    exponent = np.minimum(exponent, MAX_SHIFT - 1 - max(frac_in, 0)).astype(np.int64)
    while True:  # rounding can add up to fan_in / 2: step down where the bound fails
        w_q = round_half_up(np.ldexp(w, exponent[None, :]))
        b_q = round_half_up(np.ldexp(b, exponent + frac_in))
        bad = _worst(w_q, b_q, in_limit) >= int(ACC_LIMIT)
        if not bad.any():
            break
        exponent = exponent - bad
    layer = IntLinear(w_q, b_q, (exponent + frac_in - frac_out).astype(np.int32), float(limit),
                      leaky, frac_out)
    layer.check(in_limit)
    return layer


def _worst(kernel: np.ndarray, bias: np.ndarray, in_limit: float) -> np.ndarray:
    """Largest accumulator magnitude per output channel, ``[out]`` int64 (exact)."""
    return (np.abs(kernel.astype(np.int64)).sum(0) * int(in_limit)
            + np.abs(bias.astype(np.int64)))

"""h_s as an integer network (spec 3.5): conv, up-conv, conv, up-conv, conv.

``[h, w, N]`` fixed-point z^ -> ``[4h, 4w, 2M]`` fixed-point phi, each layer an
``IntLinear`` over 3x3 patches. The transposed convolutions are evaluated in their
sub-pixel form (``up_conv3x3``), which needs no multiplications by inserted zeros.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import numpy as np

from jaxlic.coding.exact.linear import (
    ACT_LIMIT, IntLinear, frac_bits, quantize_linear, round_half_up)

# (parameter name, transposed, LeakyReLU) of h_s's layers in order (transforms.HyperSynthesis)
LAYERS = (("Conv_0", False, True), ("ConvTranspose_0", True, True), ("Conv_1", False, True),
          ("ConvTranspose_1", True, True), ("Conv_2", False, False))
# Taps of a 3x3 stride-2 'SAME' transposed conv (Flax, kernel not flipped) for each output
# phase along one axis: (kernel tap, input offset). Output 2i uses x[i-1] (tap 0) and x[i]
# (tap 2); output 2i+1 uses x[i] (tap 1).
_UP_TAPS = {0: ((0, 1), (2, 0)), 1: ((1, 0),)}


def conv3x3(x: Any, layer: IntLinear, xp: Any = np) -> Any:
    """Stride-1 3x3 conv with zero padding: ``[h, w, C] -> [h, w, F]``; kernel rows in
    ``(ky, kx, c)`` order.

    The nine taps' products are summed one by one (exact integers, so the order does not
    matter) rather than taken from 9C-wide patches: the working memory is a few
    ``[h, w, F]`` arrays instead of ``[h, w, 9C]``.
    """
    h, w, c = x.shape
    padded = xp.pad(x, ((1, 1), (1, 1), (0, 0)))
    total = 0
    for tap in range(9):
        dy, dx = divmod(tap, 3)
        part = dataclasses.replace(layer, kernel=layer.kernel[tap * c: (tap + 1) * c])
        total = total + part.products(padded[dy:dy + h, dx:dx + w], xp)
    return layer.output(total, xp)


def up_conv3x3(x: Any, layer: IntLinear, xp: Any = np) -> Any:
    """Flax ``ConvTranspose`` 3x3, stride 2, 'SAME': ``[h, w, C] -> [2h, 2w, F]``.

    Every input position is multiplied by all nine taps once; each output phase then sums
    the (shifted) products of its taps. Sums of exact integers bounded as in the layer's
    check, so the result equals the dilated convolution exactly.
    """
    h, w, c = x.shape
    f = layer.bias.shape[0]
    kernel = layer.kernel.reshape(3, 3, c, f).transpose(2, 0, 1, 3).reshape(c, 9 * f)
    whole = dataclasses.replace(layer, kernel=kernel)
    products = whole.products(x, xp).reshape(h, w, 3, 3, f)

    def shifted(ty: int, sy: int, tx: int, sx: int) -> Any:
        return xp.pad(products[:, :, ty, tx], ((sy, 0), (sx, 0), (0, 0)))[:h, :w]

    phases = [[sum(shifted(ty, sy, tx, sx) for ty, sy in rows for tx, sx in cols)
               for cols in _UP_TAPS.values()] for rows in _UP_TAPS.values()]
    out = xp.stack([xp.stack(row) for row in phases])  # [2 (a), 2 (b), h, w, F]
    return layer.output(out.transpose(2, 0, 3, 1, 4).reshape(2 * h, 2 * w, f), xp)


def magnitude(kernel: np.ndarray, bias: np.ndarray | None, estimate: float) -> float:
    """Rough output magnitude of ``x @ kernel + bias`` for inputs of magnitude ``estimate``
    (largest column 2-norm times it, plus the largest bias); only sets fixed-point ranges."""
    norm = float(np.sqrt(np.square(np.asarray(kernel, np.float64)).sum(0)).max())
    return norm * estimate + (0.0 if bias is None else float(np.abs(bias).max()))


@functools.partial(jax.tree_util.register_dataclass, data_fields=["layers"],
                   meta_fields=["frac_in"])
@dataclasses.dataclass(frozen=True)
class IntHyperSynthesis:
    """Integer h_s. ``frac_in``: fractional bits of the input; ``layers`` as in ``LAYERS``."""

    frac_in: int
    layers: tuple[IntLinear, ...]

    def __call__(self, z: Any, xp: Any = np) -> Any:
        """``z [h, w, N]`` (float64 values, computed bit-exactly by the caller) ->
        ``phi [4h, 4w, 2M]`` (float64 integers in the output layer's fixed point); NumPy,
        or traced with ``jax.numpy`` in 64-bit mode."""
        x = xp.clip(round_half_up(xp.ldexp(z, self.frac_in), xp), -ACT_LIMIT, ACT_LIMIT)
        for (_, transposed, _), layer in zip(LAYERS, self.layers):
            x = up_conv3x3(x, layer, xp) if transposed else conv3x3(x, layer, xp)
        return x

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {prefix + "frac_in": np.asarray([self.frac_in], np.int32)}
        for i, layer in enumerate(self.layers):
            out.update(layer.arrays(f"{prefix}{i}/"))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "IntHyperSynthesis":
        layers = tuple(IntLinear.from_arrays(arrays, f"{prefix}{i}/") for i in range(len(LAYERS)))
        for layer in layers:
            layer.check(ACT_LIMIT)
        return cls(int(arrays[prefix + "frac_in"][0]), layers)

    @classmethod
    def build(cls, params: dict, z_magnitude: float, phi_frac: int) -> "IntHyperSynthesis":
        """Quantise float h_s parameters for inputs of magnitude about ``z_magnitude``;
        phi comes out with ``phi_frac`` fractional bits."""
        kernels, biases = _float_layers(params)
        estimates = magnitudes(params, z_magnitude)
        fracs = [frac_bits(e) for e in estimates[:-1]] + [phi_frac]
        layers = tuple(
            quantize_linear(k, b, f_in, f_out, ACT_LIMIT, leaky=leaky)
            for k, b, f_in, f_out, (_, _, leaky) in zip(kernels, biases, fracs[:-1], fracs[1:],
                                                         LAYERS))
        return cls(fracs[0], layers)


def _float_layers(params: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """h_s kernels as ``[9 C_in, C_out]`` and biases, float64, in ``LAYERS`` order."""
    kernels = [np.asarray(params[name]["kernel"], np.float64) for name, _, _ in LAYERS]
    biases = [np.asarray(params[name]["bias"], np.float64) for name, _, _ in LAYERS]
    return [k.reshape(-1, k.shape[-1]) for k in kernels], biases


def magnitudes(params: dict, z_magnitude: float) -> list[float]:
    """Estimated magnitudes of the input and of every layer's output (phi last)."""
    estimates = [z_magnitude]
    for kernel, bias in zip(*_float_layers(params)):
        estimates.append(magnitude(kernel, bias, estimates[-1]))
    return estimates

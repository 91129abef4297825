"""Context model and entropy-parameter head as integer networks (spec 3.6, 3.7).

Per position: the 12 causal taps of y^ (integers) -> masked conv -> ctx; ``[ctx, phi]``
-> 1x1 LeakyReLU -> 1x1 LeakyReLU -> 1x1 -> raw mixture parameters, each a fixed-point
integer with ``RAW_FRAC`` fractional bits. The first head layer is split into its ctx
and phi halves (``phi_products``), whose exact products are summed: the phi half does
not depend on decoded values, so a caller may evaluate it at any time.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import numpy as np

from jaxlic.coding.exact.hyper import magnitude
from jaxlic.coding.exact.linear import ACT_LIMIT, IntLinear, frac_bits, quantize_linear
from jaxlic.layers.conv import causal_mask

TAP_LIMIT = float(2**24)  # |y^| the bound holds for (the codec refuses larger latents)
TAP_MAGNITUDE = 16.0  # typical |y^| that sets the context output's fixed point
RAW_FRAC = 16  # fractional bits of the raw mixture parameters
RAW_LIMIT = float(2**30)  # raw parameters are clamped to +-2**30 (int32 with room)
_HEAD = ("Dense_0", "Dense_1", "Dense_2")


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["context", "hidden", "out"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class IntHead:
    """Integer context model and entropy-parameter head.

    Attributes:
      context: masked conv over ``[12 M]`` taps (tap-major, see ``causal_offsets``) -> 2M.
      hidden: the head's two hidden layers (4M -> H and H -> H), both LeakyReLU; the
        first one's kernel rows are ``[ctx (2M); phi (2M)]``.
      out: the last layer H -> 3KM (no bias), output in ``RAW_FRAC`` fixed point.
    """

    context: IntLinear
    hidden: tuple[IntLinear, IntLinear]
    out: IntLinear

    @property
    def _split(self) -> int:
        return self.context.bias.shape[0]

    def phi_products(self, phi: Any, xp: Any = np) -> Any:
        """The phi half of the first hidden layer: ``[..., 2M] -> [..., H]`` (exact)."""
        half = dataclasses.replace(self.hidden[0], kernel=self.hidden[0].kernel[self._split:])
        return half.products(phi, xp)

    def raw(self, taps: Any, phi_products: Any, out: IntLinear, xp: Any = np) -> Any:
        """Raw mixture parameters at P positions (NumPy, or traced with ``jax.numpy``).

        Args:
          taps: ``[P, 12 M]`` causal neighbours (integers; clamped to ``TAP_LIMIT``).
          phi_products: ``[P, H]`` rows of ``phi_products`` for the same positions.
          out: ``self.out`` or a column subset of it (``columns``).

        Returns ``[P, 3Kn]`` int32 (logits, means, scales in ``RAW_FRAC`` fixed point).
        """
        ctx = self.context(xp.clip(taps, -TAP_LIMIT, TAP_LIMIT), xp)
        first = dataclasses.replace(self.hidden[0], kernel=self.hidden[0].kernel[: self._split])
        h = first.output(first.products(ctx, xp) + phi_products, xp)
        return out(self.hidden[1](h, xp), xp).astype(xp.int32)

    @classmethod
    def build(cls, context: dict, head: dict, phi_magnitude: float) -> tuple["IntHead", int]:
        """Quantise the float ``context`` (MaskedConv) and ``head`` (EntropyParameters)
        parameters. Returns the head and the fixed point (fractional bits) phi must have:
        the one shared by both halves of the first layer's input."""
        k = np.asarray(context["kernel"], np.float64)
        rows, cols = np.nonzero(causal_mask(k.shape[0]))
        ctx_kernel = k[rows, cols].reshape(-1, k.shape[-1])  # [12 M, 2M], tap-major
        ctx_bias = np.asarray(context["bias"], np.float64)
        estimate = max(magnitude(ctx_kernel, ctx_bias, TAP_MAGNITUDE), phi_magnitude)
        frac = frac_ep = frac_bits(estimate)
        ctx = quantize_linear(ctx_kernel, ctx_bias, 0, frac_ep, TAP_LIMIT)
        hidden = []
        for name in _HEAD[:2]:
            kernel = np.asarray(head[name]["kernel"], np.float64)
            bias = np.asarray(head[name]["bias"], np.float64)
            estimate = magnitude(kernel, bias, estimate)
            hidden.append(quantize_linear(kernel, bias, frac, frac_bits(estimate), ACT_LIMIT,
                                          leaky=True))
            frac = frac_bits(estimate)
        out = quantize_linear(np.asarray(head[_HEAD[2]]["kernel"], np.float64), None, frac,
                              RAW_FRAC, ACT_LIMIT, limit=RAW_LIMIT)
        return cls(ctx, (hidden[0], hidden[1]), out), frac_ep

    def columns(self, channels: np.ndarray, components: int) -> IntLinear:
        """The output layer restricted to the latent ``channels [n]`` (same layout)."""
        n = self.out.bias.shape[0] // (3 * components)
        cols = (np.arange(3 * components)[:, None] * n + np.asarray(channels)[None, :]).ravel()
        return dataclasses.replace(self.out, kernel=self.out.kernel[:, cols],
                                   bias=self.out.bias[cols], shift=self.out.shift[cols])

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        layers = (self.context, *self.hidden, self.out)
        out: dict[str, np.ndarray] = {}
        for i, layer in enumerate(layers):
            out.update(layer.arrays(f"{prefix}{i}/"))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "IntHead":
        layers = [IntLinear.from_arrays(arrays, f"{prefix}{i}/") for i in range(4)]
        head = cls(layers[0], (layers[1], layers[2]), layers[3])
        head.context.check(TAP_LIMIT)
        for layer in layers[1:]:
            layer.check(ACT_LIMIT)
        return head

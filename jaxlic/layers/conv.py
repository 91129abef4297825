"""Convolution helpers: tfc-aligned strided convs, sub-pixel up-sampling, masked conv, PQF."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from jaxlic.layers import init

LEAKY_SLOPE = 0.2  # TensorFlow's leaky_relu default, used throughout the TF reference


def leaky_relu(x: jax.Array) -> jax.Array:
    """LeakyReLU with the reference's slope 0.2 (Flax's default is 0.01)."""
    return nn.leaky_relu(x, negative_slope=LEAKY_SLOPE)


def conv(features: int, kernel: int, stride: int = 1, use_bias: bool = True,
         name: str | None = None, dtype: Any = None, kernel_init: Any = None,
         bias_init: Any = nn.initializers.zeros) -> nn.Conv:
    """NHWC conv with tfc alignment: zero "same" padding, stride-2 taps sampled at ``2i``.

    A k x k kernel gets ``(k-1)//2`` pixels of padding on every side, also at stride 2,
    so a 3x3 stride-2 conv and a 1x1 stride-2 shortcut read the same input positions.
    ('SAME' in XLA pads (0, 1) for even sizes and would misalign them by one pixel.)
    """
    pad = (kernel - 1) // 2
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                   padding=((pad, pad), (pad, pad)), use_bias=use_bias, name=name,
                   dtype=dtype, kernel_init=kernel_init or init.lecun_normal(),
                   bias_init=bias_init)


def depth_to_space(x: jax.Array, block: int = 2) -> jax.Array:
    """TF "DCR" depth-to-space: ``out[b, h*s+i, w*s+j, c] = x[b, h, w, (i*s + j)*C + c]``.

    ``[B, H, W, s*s*C] -> [B, H*s, W*s, C]``.
    """
    b, h, w, d = x.shape
    c = d // (block * block)
    x = x.reshape(b, h, w, block, block, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * block, w * block, c)


def causal_mask(kernel: int = 5) -> np.ndarray:
    """Type-A raster-scan mask ``[k, k]``: 1 on rows above the centre and left of it."""
    mask = np.zeros((kernel, kernel), np.float32)
    mask[: kernel // 2, :] = 1.0
    mask[kernel // 2, : kernel // 2] = 1.0
    return mask


class MaskedConv(nn.Module):
    """Type-A masked k x k convolution (the context model), ``[B,H,W,C] -> [B,H,W,F]``.

    The kernel is stored in full (``[k, k, C, F]``, as in the reference) and multiplied by
    the constant causal mask inside the module, so masked taps never receive gradient.
    ``from_taps`` evaluates the same layer from the gathered causal neighbours of a few
    positions; the coder uses it so that encoder and decoder run one identical function.
    """

    in_features: int
    features: int
    kernel: int = 5
    dtype: Any = None

    def setup(self):
        # Glorot-uniform kernel, zero bias (the reference's masked conv initialisers).
        k = self.kernel
        self.weight = self.param("kernel", init.glorot_uniform(),
                                 (k, k, self.in_features, self.features))
        self.bias = self.param("bias", nn.initializers.zeros, (self.features,))
        self.mask = jnp.asarray(causal_mask(k))[:, :, None, None]

    def __call__(self, x: jax.Array) -> jax.Array:
        pad = self.kernel // 2
        kernel = (self.weight * self.mask).astype(self.dtype or x.dtype)
        y = jax.lax.conv_general_dilated(
            x.astype(kernel.dtype), kernel, (1, 1), ((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + self.bias.astype(y.dtype)

    def from_taps(self, taps: jax.Array) -> jax.Array:
        """Output at P positions from their causal neighbours, ``[P, T, C] -> [P, F]``.

        ``taps[p, t]`` is the input at the t-th active tap (``causal_offsets`` order) of
        position p, zero outside the image.
        """
        rows, cols = np.nonzero(causal_mask(self.kernel))
        active = self.weight[rows, cols]  # [T, C, F]
        return jnp.einsum("ptc,tcf->pf", taps, active) + self.bias


def causal_offsets(kernel: int = 5) -> np.ndarray:
    """``[T, 2]`` (row, column) offsets of the active taps relative to the centre, raster order."""
    rows, cols = np.nonzero(causal_mask(kernel))
    return np.stack([rows - kernel // 2, cols - kernel // 2], axis=1)


class PostQuantFilter(nn.Module):
    """Post-quantisation filter: a depthwise 3x3 conv with bias, identity-initialised.

    ``y' = F(y_hat)`` with one 3x3 kernel and one bias per channel (10 C parameters) and
    zero padding; it starts as the identity (centre tap 1), i.e. a residual offset that
    starts at zero. ``[B, H, W, C] -> [B, H, W, C]``.
    """

    dtype: Any = None

    @nn.compact
    def __call__(self, y: jax.Array) -> jax.Array:
        channels = y.shape[-1]

        def identity(key, shape, dtype=jnp.float32):
            del key
            return jnp.zeros(shape, dtype).at[1, 1].set(1.0)

        return nn.Conv(channels, (3, 3), padding=((1, 1), (1, 1)),
                       feature_group_count=channels, kernel_init=identity,
                       dtype=self.dtype, name="depthwise")(y)

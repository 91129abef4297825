"""The four transforms of the asymmetric codec (spec sections 3.1, 3.2, 3.3, 3.5, 3.9).

Each transform is a chain of layers, ``__call__(x, first, last)`` applies layers ``first``
to ``last - 1`` (all by default), and ``REACHES`` holds the receptive reach of each layer
(``jaxlic.layers.reach``), so that the coder can stream a large image through the layers
in row stripes. The layers carry explicit names, the ones Flax gave them automatically
before, so parameter trees and weights files are unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import flax.linen as nn

from jaxlic.layers import init
from jaxlic.layers import GDN, MSRB, AttentionModule, DownBlock, ResidualUnit, UpBlock
from jaxlic.layers.conv import conv, depth_to_space, leaky_relu
from jaxlic.layers.reach import SUBPIXEL, Reach, chain, conv_reach


def _apply_layers(layers: tuple, x: jax.Array, first: int, last: int | None) -> jax.Array:
    for layer in layers[first:last]:
        x = layer(x)
    return x


class AnalysisTransform(nn.Module):
    """g_a with three MSRBs: ``[B, H, W, 3] -> y [B, H/16, W/16, M]``.

    Layers ``0 .. TRUNK - 1`` end with the third MSRB, whose output
    ``t [B, H/8, W/8, N]`` also feeds the importance map; layers ``TRUNK ..`` map t to y.
    """

    TRUNK: ClassVar[int] = 7
    REACHES: ClassVar[tuple[Reach, ...]] = (
        DownBlock.REACH, MSRB.REACH, DownBlock.REACH, AttentionModule.REACH, MSRB.REACH,
        DownBlock.REACH, MSRB.REACH, conv_reach(3, 2), AttentionModule.REACH)
    channels: int  # N
    latent_channels: int  # M
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array, first: int = 0, last: int | None = None) -> jax.Array:
        n, dt = self.channels, self.dtype
        layers = (
            lambda h: DownBlock(n, dtype=dt, name="DownBlock_0")(h),
            lambda h: MSRB(dtype=dt, name="MSRB_0")(h),
            lambda h: DownBlock(n, dtype=dt, name="DownBlock_1")(h),
            lambda h: AttentionModule(dtype=dt, name="AttentionModule_0")(h),
            lambda h: MSRB(dtype=dt, name="MSRB_1")(h),
            lambda h: DownBlock(n, dtype=dt, name="DownBlock_2")(h),
            lambda h: MSRB(dtype=dt, name="MSRB_2")(h),
            # The code's last conv has neither bias nor GDN (spec D2).
            lambda h: conv(self.latent_channels, 3, stride=2, use_bias=False, dtype=dt,
                           name="Conv_0")(h),
            lambda h: AttentionModule(dtype=dt, name="AttentionModule_1")(h),
        )
        return _apply_layers(layers, x, first, last)


class ImportanceMap(nn.Module):
    """``t [B, H/8, W/8, N] -> m [B, H/16, W/16, M]`` in (-1/2, 1/2): softsign(tanh(.)).

    conv3x3/2 + GDN, three RU_3 with a long skip around them (spec 3.2, D3-D5).
    """

    REACH: ClassVar[Reach] = chain(conv_reach(3, 2), *[conv_reach(3)] * 3)
    channels: int  # M
    dtype: Any = None

    @nn.compact
    def __call__(self, t: jax.Array) -> jax.Array:
        h = GDN()(conv(self.channels, 3, stride=2, dtype=self.dtype)(t))
        w = h
        for _ in range(3):
            w = ResidualUnit(3, dtype=self.dtype)(w)
        return nn.soft_sign(jnp.tanh(h + w))


class HyperAnalysis(nn.Module):
    """h_a: five 3x3 convs (strides 1, 1, 2, 1, 2). ``[B, h, w, M] -> [B, h/4, w/4, N]``."""

    STRIDES: ClassVar[tuple[int, ...]] = (1, 1, 2, 1, 2)
    REACH: ClassVar[Reach] = chain(*[conv_reach(3, s) for s in STRIDES])
    channels: int  # N

    @nn.compact
    def __call__(self, y: jax.Array) -> jax.Array:
        h = y
        for stride in self.STRIDES[:-1]:
            h = leaky_relu(conv(self.channels, 3, stride=stride)(h))
        return conv(self.channels, 3, stride=self.STRIDES[-1])(h)


def up_conv(features: int) -> nn.ConvTranspose:
    """3x3 transposed conv producing exactly twice the input size."""
    return nn.ConvTranspose(features, (3, 3), strides=(2, 2), padding="SAME",
                            kernel_init=init.lecun_normal())


UP_CONV_REACH = Reach(SUBPIXEL.scale, 1)  # output p reads inputs floor(p / 2) - 1 .. + 1


class HyperSynthesis(nn.Module):
    """h_s: conv, up-conv x2, conv to 1.5M, up-conv x2, conv to 2M (no final activation),
    the first two at N channels. ``[B, h, w, N] -> [B, 4h, 4w, 2M]``.
    """

    REACH: ClassVar[Reach] = chain(conv_reach(3), UP_CONV_REACH, conv_reach(3), UP_CONV_REACH,
                                   conv_reach(3))
    channels: int  # N
    latent_channels: int  # M

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        n, m = self.channels, self.latent_channels
        mid = (3 * m) // 2
        h = leaky_relu(conv(n, 3)(z))
        h = leaky_relu(up_conv(n)(h))
        h = leaky_relu(conv(mid, 3)(h))
        h = leaky_relu(up_conv(mid)(h))
        return conv(2 * m, 3)(h)


class SynthesisTransform(nn.Module):
    """g_s with one MSRB: ``[B, H/16, W/16, M] -> [B, H, W, 3]`` (not clipped).

    AM, UB, UB, AM, MSRB (the only decoder MSRB, spec A4), UB, conv3x3 to 12, d2s; the
    first attention module works on the M channels of y, the first up block maps them to N.

    Deviation from the reference initialisation: the last conv starts with a zero kernel
    and a bias of 1/2, so the untrained model reconstructs mid-grey. With the tfc
    variance-scaling init the untrained reconstruction explodes (std ~600 at N=128: the
    inverse GDNs amplify large activations), and the first thousands of steps go into
    undoing it; from a zero kernel, the tiny model reaches 15.6 dB after 150 steps on
    BSDS crops instead of -5.8 dB (batch 8, 64x64, lr 1e-3, 2-core CPU); the grey bias
    saves the first steps spent learning the mean (5 dB for black, 11 dB for grey).
    """

    REACHES: ClassVar[tuple[Reach, ...]] = (
        AttentionModule.REACH, UpBlock.REACH, UpBlock.REACH, AttentionModule.REACH,
        MSRB.REACH, UpBlock.REACH, chain(conv_reach(3), SUBPIXEL))
    channels: int  # N
    dtype: Any = None

    @nn.compact
    def __call__(self, y: jax.Array, first: int = 0, last: int | None = None) -> jax.Array:
        dt = self.dtype
        layers = (
            lambda h: AttentionModule(dtype=dt, name="AttentionModule_0")(h),
            lambda h: UpBlock(self.channels, dtype=dt, name="UpBlock_0")(h),
            lambda h: UpBlock(dtype=dt, name="UpBlock_1")(h),
            lambda h: AttentionModule(dtype=dt, name="AttentionModule_1")(h),
            lambda h: MSRB(dtype=dt, name="MSRB_0")(h),
            lambda h: UpBlock(dtype=dt, name="UpBlock_2")(h),
            lambda h: depth_to_space(conv(
                12, 3, dtype=dt, kernel_init=nn.initializers.zeros,
                bias_init=nn.initializers.constant(0.5), name="Conv_0")(h)),
        )
        return _apply_layers(layers, y, first, last)

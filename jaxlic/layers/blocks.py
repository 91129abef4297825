"""Residual unit, simplified attention, improved MSRB, and the down/up blocks (spec section 2)."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import flax.linen as nn

from jaxlic.layers.conv import conv, depth_to_space, leaky_relu
from jaxlic.layers.gdn import GDN
from jaxlic.layers.reach import SUBPIXEL, Reach, chain, conv_reach, parallel


class ResidualUnit(nn.Module):
    """RU_k: 1x1 (C -> C/2, ReLU), k x k (ReLU), 1x1 (-> C), plus identity; no ReLU after the add.

    ``[B, H, W, C] -> [B, H, W, C]``.
    """

    kernel: int = 3
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        h = nn.relu(conv(c // 2, 1, dtype=self.dtype)(x))
        h = nn.relu(conv(c // 2, self.kernel, dtype=self.dtype)(h))
        return x + conv(c, 1, dtype=self.dtype)(h)


class AttentionModule(nn.Module):
    """Cheng 2020 simplified attention: ``x + trunk(x) * sigmoid(mask(x))``.

    trunk: three RU_3; mask: three RU_3 then a 1x1 conv. ``[B,H,W,C] -> [B,H,W,C]``.
    """

    REACH: ClassVar[Reach] = chain(*[conv_reach(3)] * 3)  # an RU_k reaches as its k x k conv
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        a = x
        for _ in range(3):
            a = ResidualUnit(3, dtype=self.dtype)(a)
        b = x
        for _ in range(3):
            b = ResidualUnit(3, dtype=self.dtype)(b)
        b = nn.sigmoid(conv(x.shape[-1], 1, dtype=self.dtype)(b))
        return x + a * b


class MSRB(nn.Module):
    """Improved multi-scale residual block (Fu et al. 2022, Fig. 3d). ``[B,H,W,C] -> same``.

    Two parallel paths (RU_3 and RU_5) exchange features twice: after the first pair
    through two 1x1 fusion convs with GDN (note the swapped concat order of the second),
    after the second pair through a final 1x1 conv; the block is residual.
    """

    REACH: ClassVar[Reach] = chain(*[parallel(conv_reach(3), conv_reach(5)), conv_reach(1)] * 2)
    dtype: Any = None

    @nn.compact
    def __call__(self, v: jax.Array) -> jax.Array:
        c = v.shape[-1]
        p1 = ResidualUnit(3, dtype=self.dtype)(v)
        s1 = ResidualUnit(5, dtype=self.dtype)(v)
        p2 = GDN()(conv(c, 1, dtype=self.dtype)(jnp.concatenate([p1, s1], -1)))
        s2 = GDN()(conv(c, 1, dtype=self.dtype)(jnp.concatenate([s1, p1], -1)))
        p3 = ResidualUnit(3, dtype=self.dtype)(p2)
        s3 = ResidualUnit(5, dtype=self.dtype)(s2)
        return v + conv(c, 1, dtype=self.dtype)(jnp.concatenate([p3, s3], -1))


class DownBlock(nn.Module):
    """Stride-2 block: ``conv3x3/2 -> LeakyReLU -> conv3x3 -> GDN`` plus a 1x1/2 shortcut.

    ``[B, H, W, C_in] -> [B, H/2, W/2, features]``.
    """

    REACH: ClassVar[Reach] = parallel(conv_reach(1, 2), chain(conv_reach(3, 2), conv_reach(3)))
    features: int
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shortcut = conv(self.features, 1, stride=2, dtype=self.dtype)(x)
        h = leaky_relu(conv(self.features, 3, stride=2, dtype=self.dtype)(x))
        h = GDN()(conv(self.features, 3, dtype=self.dtype)(h))
        return h + shortcut


class UpBlock(nn.Module):
    """Sub-pixel x2 block: ``conv3x3 (4F) -> LeakyReLU -> d2s -> conv3x3 -> IGDN`` plus a
    ``conv1x1 (4F) -> d2s`` shortcut. ``[B, H, W, C] -> [B, 2H, 2W, F]``, ``F = features``
    (default ``C``).
    """

    REACH: ClassVar[Reach] = parallel(chain(conv_reach(1), SUBPIXEL),
                                      chain(conv_reach(3), SUBPIXEL, conv_reach(3)))
    features: int | None = None
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = self.features or x.shape[-1]
        shortcut = depth_to_space(conv(4 * c, 1, dtype=self.dtype)(x))
        h = depth_to_space(leaky_relu(conv(4 * c, 3, dtype=self.dtype)(x)))
        h = GDN(inverse=True)(conv(c, 3, dtype=self.dtype)(h))
        return h + shortcut

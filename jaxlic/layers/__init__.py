"""Flax building blocks of the asymmetric codec."""

from jaxlic.layers.blocks import MSRB, AttentionModule, DownBlock, ResidualUnit, UpBlock
from jaxlic.layers.conv import (
    MaskedConv,
    PostQuantFilter,
    causal_mask,
    causal_offsets,
    conv,
    depth_to_space,
    leaky_relu,
)
from jaxlic.layers.gdn import GDN

__all__ = [
    "GDN", "MSRB", "AttentionModule", "DownBlock", "MaskedConv", "PostQuantFilter",
    "ResidualUnit", "UpBlock", "causal_mask", "causal_offsets", "conv", "depth_to_space",
    "leaky_relu",
]

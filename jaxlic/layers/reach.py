"""Receptive reach of a layer: how its output grid maps onto its input grid, and how far
each output position looks. The coder streams large images through the transforms in
row stripes (``jaxlic.coding.stripes``) and needs both to cut exact input windows."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction


@dataclasses.dataclass(frozen=True)
class Reach:
    """Output size = input size * ``scale`` along each side (1/4, 1/2, 1, 2 or 4), and
    output position ``p`` depends only on input positions within ``radius`` of
    ``floor(p / scale)`` (Chebyshev distance, in input positions)."""

    scale: Fraction
    radius: int

    def then(self, other: "Reach") -> "Reach":
        """The reach of this layer followed by ``other``."""
        return Reach(self.scale * other.scale,
                     self.radius + math.ceil(Fraction(other.radius) / self.scale))


IDENTITY = Reach(Fraction(1), 0)


def conv_reach(kernel: int, stride: int = 1) -> Reach:
    """A ``kernel x kernel`` "same" convolution sampled at ``stride * i``."""
    return Reach(Fraction(1, stride), kernel // 2)


def chain(*reaches: Reach) -> Reach:
    """The reach of layers applied one after the other."""
    total = IDENTITY
    for reach in reaches:
        total = total.then(reach)
    return total


def parallel(*reaches: Reach) -> Reach:
    """The reach of branches of equal scale whose outputs are combined pointwise."""
    if len({r.scale for r in reaches}) != 1:
        raise ValueError(f"parallel branches must have one scale, got {reaches}")
    return Reach(reaches[0].scale, max(r.radius for r in reaches))


SUBPIXEL = Reach(Fraction(2), 0)  # depth-to-space by 2: output p reads input floor(p / 2)

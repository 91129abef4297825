"""Wavefront schedule of the autoregressive latent: which positions can be coded together.

Under the 5x5 type-A mask a position depends on the two rows above (columns -2..+2) and
on two positions to its left, all of which have a smaller ``3 * row + column``. Positions
sharing that index are therefore independent, and an ``h x w`` latent needs
``3 (h - 1) + w`` sequential steps instead of ``h * w``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlic.layers.conv import causal_offsets


@dataclasses.dataclass(frozen=True)
class Wavefronts:
    """Positions of each step, padded to a common width.

    Attributes:
      rows, cols: ``[T, P]`` int32 positions; step ``t`` has ``counts[t]`` real entries,
        the rest repeat its first position (identical inputs on both sides of the coder).
      counts: ``[T]`` number of real positions per step.

    Steps are evaluated at ``padded(t)`` positions, the next power of two of their count,
    so only a handful of shapes are compiled while little padding is computed.
    """

    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.counts)

    def padded(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of step ``t`` padded to a power of two (real ones first)."""
        size = 1 << int(self.counts[t] - 1).bit_length()
        return self.rows[t, :size], self.cols[t, :size]

    def positions(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns ``[counts[t]]`` of the real positions of step ``t``."""
        return self.rows[t, : self.counts[t]], self.cols[t, : self.counts[t]]


def wavefronts(height: int, width: int, kernel: int = 5) -> Wavefronts:
    """The schedule for an ``height x width`` latent (rows top to bottom within a step)."""
    slope = kernel // 2 + 1  # 3 for the 5x5 mask
    r, c = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    index = (slope * r + c).ravel()
    order = np.lexsort((r.ravel(), index))
    steps = index[order]
    counts = np.bincount(steps, minlength=slope * (height - 1) + width)
    starts = np.cumsum(counts) - counts
    pad = 1 << int(counts.max() - 1).bit_length()
    slot = np.arange(order.size) - starts[steps]
    rows = np.repeat(r.ravel()[order][starts][:, None], pad, axis=1)
    cols = np.repeat(c.ravel()[order][starts][:, None], pad, axis=1)
    rows[steps, slot] = r.ravel()[order]
    cols[steps, slot] = c.ravel()[order]
    return Wavefronts(rows.astype(np.int32), cols.astype(np.int32), counts.astype(np.int32))


class TapGatherer:
    """Gathers the causal neighbours of positions from a zero-bordered latent buffer.

    ``buffer`` is ``[h + m, w + 2m, C]`` float32 (m = kernel // 2) holding the decoded
    (or, on the encoder, the quantised) latent at offset ``(m, m)``; zeros elsewhere.
    """

    def __init__(self, height: int, width: int, channels: int, kernel: int = 5):
        self.margin = kernel // 2
        self.offsets = causal_offsets(kernel)
        m = self.margin
        self.buffer = np.zeros((height + m, width + 2 * m, channels), np.float32)

    def write(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Store ``values [P, C]`` at positions ``(rows, cols)``."""
        self.buffer[rows + self.margin, cols + self.margin] = values

    def taps(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``[P, T, C]`` causal neighbours of the positions."""
        r = rows[:, None] + self.margin + self.offsets[None, :, 0]
        c = cols[:, None] + self.margin + self.offsets[None, :, 1]
        return self.buffer[r, c]

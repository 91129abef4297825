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
    """All positions in coding order, step by step.

    Attributes:
      rows, cols: ``[h * w]`` int32 positions, step after step (top row first in a step).
      starts: ``[T + 1]`` step ``t`` holds positions ``starts[t]`` to ``starts[t + 1] - 1``.
    """

    rows: np.ndarray
    cols: np.ndarray
    starts: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.starts) - 1

    @property
    def counts(self) -> np.ndarray:
        """``[T]`` number of positions per step."""
        return np.diff(self.starts)

    def span(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the positions of steps ``first`` to ``stop - 1``."""
        begin, end = self.starts[first], self.starts[stop]
        return self.rows[begin:end], self.cols[begin:end]

    def positions(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns ``[counts[t]]`` of the positions of step ``t``."""
        return self.span(t, t + 1)


def wavefronts(height: int, width: int, kernel: int = 5) -> Wavefronts:
    """The schedule for an ``height x width`` latent (rows top to bottom within a step)."""
    slope = kernel // 2 + 1  # 3 for the 5x5 mask
    r, c = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    index = (slope * r + c).ravel()
    order = np.lexsort((r.ravel(), index))
    counts = np.bincount(index, minlength=slope * (height - 1) + width)
    return Wavefronts(r.ravel()[order].astype(np.int32), c.ravel()[order].astype(np.int32),
                      np.concatenate([[0], np.cumsum(counts)]))


class TapGatherer:
    """Gathers the causal neighbours of positions from a zero-bordered latent buffer.

    ``buffer`` is ``[h + m, w + 2m, C]`` float64 (m = kernel // 2) holding the integer
    latent (decoded so far, or all of it on the encoder) at offset ``(m, m)``; zeros
    elsewhere.
    """

    def __init__(self, height: int, width: int, channels: int, kernel: int = 5):
        self.margin = kernel // 2
        self.offsets = causal_offsets(kernel)
        m = self.margin
        self.buffer = np.zeros((height + m, width + 2 * m, channels), np.float64)

    def write(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Store the integers ``values [P, C]`` at positions ``(rows, cols)``."""
        self.buffer[rows + self.margin, cols + self.margin] = values

    def taps(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``[P, T * C]`` causal neighbours of the positions, tap-major."""
        r = rows[:, None] + self.margin + self.offsets[None, :, 0]
        c = cols[:, None] + self.margin + self.offsets[None, :, 1]
        return self.buffer[r, c].reshape(len(rows), -1)

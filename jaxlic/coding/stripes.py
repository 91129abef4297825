"""Running a transform over a large image in row stripes, with bounded memory.

A transform is a chain of stages (``AsymmetricModel.stage``) whose receptive reach is
known (``stage_reaches``). Stage k produces its output in chunks of ``rows[k]``
full-width rows. Chunk j needs a fixed-size window of input rows around rows
``j * rows[k] / scale``, which it pulls from the previous stage (or the source); each
stage keeps only the rows its successor will still ask for, so memory depends on the
width and the chunk sizes, not on the height.

Window rows outside the image are zero, and the stage sets them to zero again before
every convolution (a Flax method interceptor): exactly what "same" zero padding does at
the border of the whole image. Rows near a window's edges are wrong, but the window is
wide enough that they never reach the rows that are kept. The streamed result therefore
equals the whole-image transform up to float rounding, for any chunk sizes; every
window of a stage has the same shape, so each stage compiles once per image width.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.layers.reach import Reach

WHOLE_PIXELS = 1 << 21  # transforms of at most this many positions at the largest
# resolution run on the whole image at once; larger ones are streamed
STRIPE_PIXELS = 3 << 19  # positions of the largest resolution per stripe (1.5 M)
HALO_SHARE = Fraction(1, 8)  # halo rows of a stage are at most this share of its window

Source = Callable[[int, int], jax.Array]  # (first, stop) -> rows [1, stop - first, W, C]
Program = Callable[[jax.Array, int, int], jax.Array]  # (window, start, extent) -> output


def _halo(reach: Reach) -> int:
    """Extra input rows on each side of a window. A down-sampling stage (scale 1/d)
    rounds them up to a multiple of d, so that its windows start on the image's stride-d
    sampling grid."""
    if reach.scale >= 1:
        return reach.radius
    step = int(1 / reach.scale)
    return step * math.ceil(reach.radius / step)


def _input_window(reach: Reach, rows: int, chunk: int) -> tuple[int, int]:
    """``(first input row, row count)`` that output rows ``chunk * rows`` to
    ``(chunk + 1) * rows - 1`` of a stage with ``reach`` depend on."""
    halo = _halo(reach)
    return int(chunk * rows / reach.scale) - halo, int(rows / reach.scale) + 2 * halo


def plan(reaches: Sequence[Reach], height: int, width: int) -> tuple[int, ...] | None:
    """Output rows per chunk of every stage for an input of ``height x width``
    positions, or None when the transform should run on the whole input at once.

    A function of the sizes only: decoders that follow it compute the same pixels. The
    largest resolution of the chain gets stripes of about ``STRIPE_PIXELS`` positions
    (at least ``align`` rows), every stage proportionally as many rows, and at least
    enough that its halo rows are at most ``HALO_SHARE`` of its window.
    """
    scales = np.cumprod([Fraction(1)] + [r.scale for r in reaches])
    top = max(scales)
    if height * width * top * top <= WHOLE_PIXELS:
        return None
    align = int(top / min(scales))  # keeps every stage's share of a stripe integral
    stripe = max(align, STRIPE_PIXELS // int(width * top) // align * align)  # top rows
    rows = []
    for reach, scale in zip(reaches, scales[1:]):
        share = stripe * scale / top
        step = max(int(reach.scale), 1)
        least = math.ceil(2 * _halo(reach) * (1 / HALO_SHARE - 1) * reach.scale)
        count = max(int(share), least, 1)
        rows.append(-(-count // step) * step)
    return tuple(rows)


def masked_stage(apply: Callable[[jax.Array], jax.Array]) -> Program:
    """Wrap ``apply(window) -> output`` (one stage, Flax ``apply`` inside) so that rows
    outside ``[0, extent)`` are zero at the input of every convolution.

    The program takes ``(window [1, n, W, C], start, extent)``: the window holds input
    rows ``start .. start + n - 1`` of an input with ``extent`` rows. A convolution
    inside the stage whose input has ``m`` rows sees rows ``start * m / n`` onwards.
    """

    def program(window: jax.Array, start: jax.Array, extent: jax.Array) -> jax.Array:
        size = window.shape[1]

        def zero_outside(next_fun, args, kwargs, context):
            if (context.method_name == "__call__"
                    and isinstance(context.module, (nn.Conv, nn.ConvTranspose))):
                x = args[0]
                f = Fraction(x.shape[1], size)
                row = start * f.numerator // f.denominator + jnp.arange(x.shape[1])
                inside = (row >= 0) & (row < extent * f.numerator // f.denominator)
                args = (jnp.where(inside[None, :, None, None], x, jnp.zeros((), x.dtype)),
                        *args[1:])
            return next_fun(*args, **kwargs)

        with nn.intercept_methods(zero_outside):
            return apply(window)

    return program


@dataclasses.dataclass
class _Stage:
    program: Program
    reach: Reach
    rows: int  # output rows per chunk
    extent: int  # input rows
    chunks: dict[int, jax.Array] = dataclasses.field(default_factory=dict)


class Stream:
    """One pass of a chain of stages over an input, chunk by chunk.

    Args:
      programs: one ``masked_stage`` program per stage (jitted by the caller).
      reaches: the stages' reaches.
      rows: output rows per chunk of each stage (``plan``).
      source: input rows ``[first, stop)`` as ``[1, stop - first, W, C]``.
      height: input rows.
    """

    def __init__(self, programs: Sequence[Program], reaches: Sequence[Reach],
                 rows: Sequence[int], source: Source, height: int):
        self._source = source
        self._stages = []
        extent = height
        for program, reach, count in zip(programs, reaches, rows):
            self._stages.append(_Stage(program, reach, count, extent))
            extent = int(extent * reach.scale)
        self.height = extent  # output rows

    @property
    def chunks(self) -> int:
        """Chunks of the last stage that cover the output."""
        return -(-self.height // self._stages[-1].rows)

    def chunk(self, j: int) -> tuple[int, jax.Array]:
        """``(first row, rows)`` of output chunk ``j`` (the last one may extend past the
        output; those rows are wrong)."""
        last = self._stages[-1]
        return j * last.rows, self._chunk(len(self._stages) - 1, j)

    def _rows(self, k: int, first: int, stop: int) -> jax.Array:
        """Output rows ``[first, stop)`` of stage ``k`` (inside its output)."""
        stage = self._stages[k]
        parts = []
        for j in range(first // stage.rows, (stop - 1) // stage.rows + 1):
            out = self._chunk(k, j)
            begin = max(first - j * stage.rows, 0)
            parts.append(out[:, begin: min(stop - j * stage.rows, stage.rows)])
        for j in [j for j in stage.chunks if j < first // stage.rows]:
            del stage.chunks[j]  # the successor only asks for later rows from now on
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)

    def _chunk(self, k: int, j: int) -> jax.Array:
        stage = self._stages[k]
        if j not in stage.chunks:
            start, size = _input_window(stage.reach, stage.rows, j)
            first, stop = max(start, 0), min(start + size, stage.extent)
            inner = self._source(first, stop) if k == 0 else self._rows(k - 1, first, stop)
            window = jnp.pad(inner, ((0, 0), (first - start, start + size - stop), (0, 0),
                                     (0, 0)))
            stage.chunks[j] = stage.program(window, start, stage.extent)
        return stage.chunks[j]


def run(stream: Stream, sink: Callable[[int, np.ndarray], None],
        progress: Callable[[float], None] | None = None) -> None:
    """Pull every output chunk of ``stream`` and hand ``(first row, rows)`` to ``sink``
    as a host array, cut at the output's last row."""
    for j in range(stream.chunks):
        first, rows = stream.chunk(j)
        sink(first, np.asarray(rows[0, : stream.height - first]))
        if progress is not None:
            progress((j + 1) / stream.chunks)


class StagedTransform:
    """The streamable form of one transform: a jitted, masked program per stage.

    ``apply_stage(params, x, index)`` runs stage ``index`` (``AsymmetricModel.stage``);
    ``finish`` post-processes the output of the last stage inside its program (e.g. to
    8-bit pixels).
    """

    def __init__(self, apply_stage: Callable[[Any, jax.Array, int], jax.Array],
                 reaches: Sequence[Reach],
                 finish: Callable[[jax.Array], jax.Array] | None = None):
        self.reaches = tuple(reaches)
        self._programs = []
        for index in range(len(self.reaches)):
            last = finish if finish is not None and index == len(self.reaches) - 1 else None

            def program(params, window, start, extent, index=index, last=last):
                out = masked_stage(lambda x: apply_stage(params, x, index))(window, start,
                                                                            extent)
                halo = int(_halo(self.reaches[index]) * self.reaches[index].scale)
                out = out[:, halo: out.shape[1] - halo]  # the chunk's own rows
                return out if last is None else last(out)

            self._programs.append(jax.jit(program))

    def plan(self, height: int, width: int) -> tuple[int, ...] | None:
        """``plan`` for this transform's stages."""
        return plan(self.reaches, height, width)

    def stream(self, params: Any, source: Source, height: int, rows: Sequence[int]) -> Stream:
        """A ``Stream`` of the stages with ``params`` over ``height`` input rows."""
        programs = [functools.partial(program, params) for program in self._programs]
        return Stream(programs, self.reaches, rows, source, height)

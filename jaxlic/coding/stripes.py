"""Running a transform over a large image in row stripes, with bounded memory.

A transform is a chain of stages (``AsymmetricModel.stage``) whose receptive reach is
known (``stage_reaches``). Stage k produces its output in chunks of ``rows[k]``
full-width rows. Chunk j needs a fixed-size window of input rows around rows
``j * rows[k] / scale``, which it pulls from the previous stage (or the source); each
stage keeps only the rows its successor will still ask for, so memory depends on the
width and the chunk sizes, not on the height.

Window rows outside the image are zero, and in windows that reach past the image the
stage sets them to zero again before every convolution (a Flax method interceptor):
exactly what "same" zero padding does at the border of the whole image. Rows near a
window's edges are wrong, but the window is wide enough that they never reach the rows
that are kept. The streamed result therefore equals the whole-image transform up to
float rounding, for any chunk sizes. Every window of a stage has the same shape, so each
stage compiles twice per image width: with the masking, for the first and last chunks,
and without it (one memory pass less per convolution) for the others.
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
STAGE_POSITIONS = 1 << 17  # output positions of a stage per chunk (x N channels); 2^18
# runs no faster per pixel and, under tcmalloc, peaks at 4.0 GiB at 24 MP (2.7 with 2^17)
HALO_SHARE = Fraction(1, 8)  # halo rows of a stage are at most this share of its window

Source = Callable[[int, int], jax.Array]  # (first, stop) -> rows [1, stop - first, W, C]
# (window, start, extent) -> the chunk's output rows; the inner variant ignores start and
# extent and serves only windows inside the image.
Program = Callable[[jax.Array, int, int], jax.Array]


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

    A function of the sizes only, so that every decoder cuts the same stripes. Each
    stage gets about ``STAGE_POSITIONS`` positions per chunk in the larger of its
    output and its input window (memory grows with the positions of a stage's tensors,
    not with their resolution; the first stage's input, the source, does not count: for
    the analysis it is the 3-channel image, and the hyper-analysis, whose source is y,
    is streamed only above ``WHOLE_PIXELS`` latent positions, images of over 500 MP),
    at least enough rows that its halo rows are at most ``HALO_SHARE`` of its window,
    and no more rows than its output has. Bounding the
    input windows also bounds what a stage keeps of its predecessor's output: a
    down-sampling stage with an output budget alone would ask for all of a tall image's
    rows at once (2^17 output positions at 1/16 of a 6000x4000 image are all 252 rows)
    and make its predecessors hold them.
    """
    scales = np.cumprod([Fraction(1)] + [r.scale for r in reaches])
    top = max(scales)
    if height * width * top * top <= WHOLE_PIXELS:
        return None
    rows = []
    for index, (reach, scale) in enumerate(zip(reaches, scales[1:])):
        step = max(int(reach.scale), 1)
        least = math.ceil(2 * _halo(reach) * (1 / HALO_SHARE - 1) * reach.scale)
        widest = max(scale, scale / reach.scale**2 if index else scale)  # per output row
        count = min(max(int(STAGE_POSITIONS // (width * widest)), least, 1),
                    math.ceil(height * scale))
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
                    and isinstance(context.module, (nn.Conv, nn.ConvTranspose))
                    and np.prod(context.module.kernel_size) != 1):  # 1x1: pointwise
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
    program: Program  # for windows that reach past the image
    inner: Program  # for windows inside it
    reach: Reach
    rows: int  # output rows per chunk
    extent: int  # input rows
    chunks: dict[int, jax.Array] = dataclasses.field(default_factory=dict)


class Stream:
    """One pass of a chain of stages over an input, chunk by chunk.

    Args:
      programs: per stage, the program for windows that reach past the input (rows
        masked) and the one for windows inside it (jitted by the caller).
      reaches: the stages' reaches.
      rows: output rows per chunk of each stage (``plan``).
      source: input rows ``[first, stop)`` as ``[1, stop - first, W, C]``.
      height: input rows.
    """

    def __init__(self, programs: Sequence[tuple[Program, Program]], reaches: Sequence[Reach],
                 rows: Sequence[int], source: Source, height: int):
        self._source = source
        self._stages = []
        extent = height
        for (program, inner), reach, count in zip(programs, reaches, rows):
            self._stages.append(_Stage(program, inner, reach, count, extent))
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
        rows = self._chunk(len(self._stages) - 1, j)
        del last.chunks[j]  # handed out once: nothing asks for it again
        return j * last.rows, rows

    def _rows(self, k: int, first: int, stop: int, keep: int) -> jax.Array:
        """Output rows ``[first, stop)`` of stage ``k`` (inside its output); afterwards
        only chunks with rows from ``keep`` on are kept (the successor's next window)."""
        stage = self._stages[k]
        parts = []
        for j in range(first // stage.rows, (stop - 1) // stage.rows + 1):
            out = self._chunk(k, j)
            begin = max(first - j * stage.rows, 0)
            parts.append(out[:, begin: min(stop - j * stage.rows, stage.rows)])
        for j in [j for j in stage.chunks if (j + 1) * stage.rows <= keep]:
            del stage.chunks[j]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)

    def _chunk(self, k: int, j: int) -> jax.Array:
        stage = self._stages[k]
        if j not in stage.chunks:
            start, size = _input_window(stage.reach, stage.rows, j)
            first, stop = max(start, 0), min(start + size, stage.extent)
            keep = _input_window(stage.reach, stage.rows, j + 1)[0]
            window = (self._source(first, stop) if k == 0
                      else self._rows(k - 1, first, stop, keep))
            if (first, stop) == (start, start + size):
                stage.chunks[j] = stage.inner(window, start, stage.extent)
            else:
                window = jnp.pad(window, ((0, 0), (first - start, start + size - stop), (0, 0),
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
    """The streamable form of one transform: two jitted programs per stage (``Stream``).

    ``apply_stage(params, x, index)`` runs stage ``index`` (``AsymmetricModel.stage``);
    ``finish`` post-processes the output of the last stage inside its program (e.g. to
    8-bit pixels).
    """

    def __init__(self, apply_stage: Callable[[Any, jax.Array, int], jax.Array],
                 reaches: Sequence[Reach],
                 finish: Callable[[jax.Array], jax.Array] | None = None):
        self.reaches = tuple(reaches)
        self._programs = []
        for index, reach in enumerate(self.reaches):
            last = finish if finish is not None and index == len(self.reaches) - 1 else None
            halo = int(_halo(reach) * reach.scale)  # output rows of each window's halo

            def program(params, window, start, extent, masked, index=index, last=last,
                        halo=halo):
                def apply(x):
                    return apply_stage(params, x, index)

                out = masked_stage(apply)(window, start, extent) if masked else apply(window)
                out = out[:, halo: out.shape[1] - halo]  # the chunk's own rows
                return out if last is None else last(out)

            self._programs.append(jax.jit(program, static_argnames="masked"))

    def plan(self, height: int, width: int) -> tuple[int, ...] | None:
        """``plan`` for this transform's stages."""
        return plan(self.reaches, height, width)

    def stream(self, params: Any, source: Source, height: int, rows: Sequence[int]) -> Stream:
        """A ``Stream`` of the stages with ``params`` over ``height`` input rows."""
        programs = [(functools.partial(program, params, masked=True),
                     functools.partial(program, params, masked=False))
                     for program in self._programs]
        return Stream(programs, self.reaches, rows, source, height)

"""The codec's float transforms: g_a with the importance map, h_a, and the PQF with g_s.

Each runs on the whole image in one jitted program while the image is small, and is
streamed through its stages in row stripes above that (``jaxlic.coding.stripes``), so
that memory does not grow with the image height. Which way an image goes, and the
stripe sizes, depend on the image size only; both ways give the same result up to float
rounding.

Inside these programs every 1x1 stride-1 convolution is evaluated as a matrix product
over the channels (``pointwise_as_matmul``): the same parameters and result up to float
rounding, in less time on this project's CPU (docs/performance.md). Training keeps the
layers as they are.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.linen.dtypes import promote_dtype

from jaxlic.coding import stripes
from jaxlic.models import ALIGNMENT, AsymmetricModel, ModelConfig
from jaxlic.models.asymmetric import STAGE_COUNTS, stage_reaches

Report = Callable[[float], None]  # fraction of the transform done


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The image size rounded up to multiples of 64 (the size the transforms see)."""
    return -(-height // ALIGNMENT) * ALIGNMENT, -(-width // ALIGNMENT) * ALIGNMENT


def to_pixels(x_hat: jax.Array) -> jax.Array:
    """Reconstruction in [0, 1] (float, any range, NaN possible) -> uint8."""
    return jnp.round(jnp.clip(jnp.nan_to_num(x_hat), 0.0, 1.0) * 255.0).astype(jnp.uint8)


def pad_image(image: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 3]`` replicate-padded at the bottom and right to multiples of 64."""
    height, width = padded_size(*image.shape[:2])
    return np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)),
                  mode="edge")


def _unit(pixels: np.ndarray) -> jax.Array:
    """uint8 pixels -> float32 in [0, 1]."""
    return jnp.asarray(pixels, jnp.float32) / 255.0


def pointwise_as_matmul(next_fun: Callable, args: tuple, kwargs: dict, context: Any) -> Any:
    """Flax method interceptor: a 1x1 stride-1 ``nn.Conv`` without padding becomes
    ``x @ kernel + bias`` over the last axis; other calls run unchanged."""
    conv = context.module
    if (context.method_name != "__call__" or type(conv) is not nn.Conv or kwargs
            or np.prod(conv.kernel_size) != 1 or np.prod(conv.strides or 1) != 1
            or conv.padding not in ("SAME", "VALID", ((0, 0), (0, 0)))
            or conv.feature_group_count != 1 or conv.mask is not None):
        return next_fun(*args, **kwargs)
    kernel = conv.get_variable("params", "kernel")[0, 0]  # [1, 1, C, F] -> [C, F]
    bias = conv.get_variable("params", "bias") if conv.use_bias else None
    x, kernel, bias = promote_dtype(args[0], kernel, bias, dtype=conv.dtype)
    y = jnp.einsum("...c,cf->...f", x, kernel)
    return y if bias is None else y + bias


def _whole_program(model: AsymmetricModel, method: Callable,
                   finish: Callable[[jax.Array], jax.Array] | None) -> Callable:
    def program(params: Any, x: jax.Array) -> jax.Array:
        with nn.intercept_methods(pointwise_as_matmul):
            out = model.apply({"params": params}, x, method=method)
        return out if finish is None else finish(out)

    return jax.jit(program)


def _apply_stage(model: AsymmetricModel, name: str, params: Any, x: jax.Array,
                 index: int) -> jax.Array:
    with nn.intercept_methods(pointwise_as_matmul):
        return model.apply({"params": params}, x, name, index, method=AsymmetricModel.stage)


class Transforms:
    """Whole-image and streamed forms of the analysis, hyper-analysis and synthesis of a
    model; ``params`` are passed to every call."""

    def __init__(self, config: ModelConfig):
        self.config = config
        model = AsymmetricModel(config)
        self._whole = {}
        self._streamed = {}
        for name in STAGE_COUNTS:
            finish = to_pixels if name == "synthesis" else None
            self._whole[name] = _whole_program(model, getattr(AsymmetricModel, name), finish)
            self._streamed[name] = stripes.StagedTransform(
                functools.partial(_apply_stage, model, name), stage_reaches(config, name),
                finish)

    def analysis(self, params: Any, images: Sequence[np.ndarray],
                 report: Report | None = None) -> np.ndarray:
        """``y~ = g_a(x) * m`` of same-size uint8 images ``[H, W, 3]``: float32
        ``[B, H'/16, W'/16, M]`` with ``H', W'`` the padded size."""
        padded = [pad_image(image) for image in images]
        height, width = padded[0].shape[:2]
        if self._streamed["analysis"].plan(height, width) is None:
            return np.asarray(self._whole["analysis"](params, _unit(np.stack(padded))))
        return np.stack([self._stream("analysis", params, image[None], report)
                         for image in padded])

    def hyper_analysis(self, params: Any, y_tilde: np.ndarray) -> np.ndarray:
        """``z = h_a(y~)``: ``[h, w, M] -> [h/4, w/4, N]`` float32."""
        return self._run("hyper_analysis", params, y_tilde[None])[0]

    def synthesis(self, params: Any, y_hat: np.ndarray, report: Report | None = None
                  ) -> np.ndarray:
        """uint8 pixels ``[B, 16h, 16w, 3]`` of ``g_s(PQF(y^))`` for ``y^ [B, h, w, M]``
        (float32, after any inverse gain), clipped to [0, 1] and rounded."""
        return self._run("synthesis", params, y_hat, report)

    def _run(self, name: str, params: Any, x: np.ndarray, report: Report | None = None
             ) -> np.ndarray:
        """Transform ``name`` of a batch ``x [B, h, w, C]`` (float32)."""
        if self._streamed[name].plan(x.shape[1], x.shape[2]) is None:
            return np.asarray(self._whole[name](params, jnp.asarray(x)))
        return np.stack([self._stream(name, params, item[None], report) for item in x])

    def _stream(self, name: str, params: Any, x: np.ndarray, report: Report | None
                ) -> np.ndarray:
        """Transform ``name`` of one input ``x [1, h, w, C]`` (uint8 pixels for the
        analysis) in stripes; ``[h', w', C']``."""
        staged = self._streamed[name]
        rows = staged.plan(x.shape[1], x.shape[2])
        read = _unit if name == "analysis" else jnp.asarray
        stream = staged.stream(params, lambda first, stop: read(x[:, first:stop]), x.shape[1],
                               rows)
        out = None

        def sink(first: int, block: np.ndarray) -> None:
            nonlocal out
            if out is None:
                width = block.shape[1]
                out = np.empty((stream.height, width, block.shape[2]), block.dtype)
            out[first: first + len(block)] = block

        stripes.run(stream, sink, report)
        return out

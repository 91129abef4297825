"""The evaluation runner: code every image with a codec, decode it, time both, measure.

Any object with ``compress``/``decompress`` (the ``ImageCodec`` protocol) can be evaluated:
a classical codec at one quality setting or a learned ``jaxlic.Codec``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from jaxlic.eval.distortion import ms_ssim_db, ms_ssim_rgb, psnr_rgb
from jaxlic.eval.images import EvalImage, Skipped


class ImageCodec(Protocol):
    """Lossy image codec on uint8 ``[H, W, 3]`` RGB arrays."""

    def compress(self, image: np.ndarray) -> bytes: ...

    def decompress(self, data: bytes) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class AtQuality:
    """A ``jaxlic.Codec`` held at one quality (None for a fixed-rate model) and latent
    refinement setting, as an ``ImageCodec``."""

    codec: object  # jaxlic.Codec (not imported here: the runner serves any codec)
    quality: float | None
    refine: object = None  # a jaxlic.Refinement: latents optimised per image

    def compress(self, image: np.ndarray) -> bytes:
        return self.codec.compress(image, quality=self.quality, refine=self.refine)

    def decompress(self, data: bytes) -> np.ndarray:
        return self.codec.decompress(data)


@dataclasses.dataclass(frozen=True)
class ImageResult:
    """Measurements of one image at one codec setting.

    ``bpp`` counts every byte of the bitstream over the original ``height * width`` pixels;
    ``psnr_rgb`` is in dB; ``ms_ssim_rgb`` and its dB value are ``None`` for images under
    176 px a side; times are wall-clock seconds.
    """

    image: str
    height: int
    width: int
    num_bytes: int
    bpp: float
    psnr_rgb: float
    ms_ssim_rgb: float | None
    ms_ssim_rgb_db: float | None
    encoding_time: float
    decoding_time: float


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of an R-D curve: a label (``q=50``, a weight file) and a codec factory,
    called once, just before the point is measured."""

    label: str
    make_codec: Callable[[], ImageCodec]


@dataclasses.dataclass(frozen=True)
class PointResult:
    """All images at one setting; ``failures`` are images the codec could not code."""

    setting: str
    images: list[ImageResult]
    failures: list[Skipped]


def measure(codec: ImageCodec, image: EvalImage) -> ImageResult:
    """Encode and decode ``image`` once, timing each, and measure rate and distortion."""
    start = time.perf_counter()
    data = codec.compress(image.pixels)
    encoded = time.perf_counter()
    reconstruction = np.asarray(codec.decompress(data))
    decoded = time.perf_counter()
    if reconstruction.shape != image.pixels.shape or reconstruction.dtype != np.uint8:
        raise ValueError(f"decoded {reconstruction.dtype} {reconstruction.shape}, "
                         f"expected uint8 {image.pixels.shape}")
    height, width = image.pixels.shape[:2]
    ms_ssim = ms_ssim_rgb(image.pixels, reconstruction)
    return ImageResult(
        image=image.name, height=height, width=width, num_bytes=len(data),
        bpp=8.0 * len(data) / (height * width),
        psnr_rgb=psnr_rgb(image.pixels, reconstruction),
        ms_ssim_rgb=ms_ssim, ms_ssim_rgb_db=ms_ssim_db(ms_ssim),
        encoding_time=encoded - start, decoding_time=decoded - encoded)


def evaluate(codec: ImageCodec, images: Sequence[EvalImage],
             on_image: Callable[[], None] = lambda: None
             ) -> tuple[list[ImageResult], list[Skipped]]:
    """Measure every image; an image the codec fails on is returned as ``Skipped``.

    The first image of each shape is coded once untimed beforehand, so that one-off costs
    (JIT compilation per shape, library start-up) do not land in the times. ``on_image``
    is called after each image (progress bars).
    """
    results, failures = [], []
    warm: set[tuple[int, ...]] = set()
    for image in images:
        try:
            if image.pixels.shape not in warm:
                codec.decompress(codec.compress(image.pixels))
                warm.add(image.pixels.shape)
            results.append(measure(codec, image))
        except Exception as error:  # noqa: BLE001 - any codec error is reported, not fatal
            failures.append(Skipped(image.name, f"{type(error).__name__}: {error}"))
        on_image()
    return results, failures


def evaluate_settings(settings: Sequence[Setting], images: Sequence[EvalImage],
                      on_image: Callable[[], None] = lambda: None) -> list[PointResult]:
    """``evaluate`` every setting of one curve over the same images; a codec that cannot
    be made (a bad weights file) gives a point with no images and one failure."""
    points = []
    for setting in settings:
        try:
            codec = setting.make_codec()
        except Exception as error:  # noqa: BLE001 - e.g. a bad weights file: report, go on
            points.append(PointResult(setting.label, [], [Skipped("(codec)", f"{error}")]))
            for _ in images:
                on_image()
            continue
        results, failures = evaluate(codec, images, on_image)
        points.append(PointResult(setting.label, results, failures))
    return points

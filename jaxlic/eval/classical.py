"""Classical image codecs from PyPI as ``ImageCodec`` objects, with their quality sweeps.

JPEG, WebP, JPEG 2000 and AVIF go through Pillow, JPEG XL through imagecodecs (libjxl) and
HEVC intra through pillow-heif (libheif + x265, 4:4:4 chroma). Every codec encodes RGB and
decodes to uint8 RGB; the byte counts are whole files, headers and containers included.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxlic.eval.runner import ImageCodec, Setting


@dataclasses.dataclass(frozen=True)
class PillowCodec:
    """A Pillow format (``JPEG``, ``WEBP``, ``JPEG2000``, ``AVIF``) with fixed save options."""

    format: str
    options: Mapping[str, Any]

    def compress(self, image: np.ndarray) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(buffer, format=self.format, **self.options)
        return buffer.getvalue()

    def decompress(self, data: bytes) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))


@dataclasses.dataclass(frozen=True)
class JpegXLCodec:
    """JPEG XL (libjxl via imagecodecs) at a butteraugli ``distance`` (lower is better)."""

    distance: float
    effort: int = 7

    def compress(self, image: np.ndarray) -> bytes:
        import imagecodecs

        return bytes(imagecodecs.jpegxl_encode(image, distance=self.distance, effort=self.effort))

    def decompress(self, data: bytes) -> np.ndarray:
        import imagecodecs

        return np.asarray(imagecodecs.jpegxl_decode(data), np.uint8)


@dataclasses.dataclass(frozen=True)
class HeifCodec:
    """HEVC intra in a HEIF file (libheif with x265) at ``quality`` 0..100, ``chroma``
    subsampling 444, 422 or 420 and x265 ``tune``; decoded with libde265."""

    quality: int
    chroma: int = 444
    tune: str = "psnr"

    def compress(self, image: np.ndarray) -> bytes:
        import pillow_heif

        height, width = image.shape[:2]
        heif = pillow_heif.from_bytes("RGB", (width, height), np.ascontiguousarray(image).tobytes())
        buffer = io.BytesIO()
        heif.save(buffer, quality=self.quality, chroma=self.chroma, enc_params={"tune": self.tune})
        return buffer.getvalue()

    def decompress(self, data: bytes) -> np.ndarray:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        return np.asarray(heif.to_pillow().convert("RGB"))


def _module(name: str, flag: str | None = None) -> Callable[[], str | None]:
    """Requirement check: module ``name`` imports (and its ``flag`` codec is available)."""

    def missing() -> str | None:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            return f"{name} is not installed ({error}); pip install 'jaxlic[eval]'"
        if flag and not getattr(getattr(module, flag, None), "available", False):
            return f"{name} was built without {flag}"
        return None

    return missing


def _pillow_feature(feature: str) -> Callable[[], str | None]:
    """Requirement check: Pillow was built with ``feature`` (``webp``, ``jpg_2000``, ``avif``)."""

    def missing() -> str | None:
        from PIL import features

        return None if features.check(feature) else f"Pillow has no {feature} support"

    return missing


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A classical codec and the settings that trace its R-D curve on Kodak-like images.

    ``values`` are in the units of ``setting``; ``make`` builds the codec for one value and
    ``missing`` says why the codec cannot run here (``None`` when it can).
    """

    name: str
    description: str
    setting: str
    values: tuple[float, ...]
    make: Callable[[float], ImageCodec]
    missing: Callable[[], str | None]

    def settings(self, values: tuple[float, ...] | None = None) -> list[Setting]:
        """One ``Setting`` per value (default ``self.values``), labelled ``setting=value``."""
        return [Setting(f"{self.setting}={value:g}", lambda v=value: self.make(v))
                for value in (values or self.values)]


# The values were chosen on Kodak to span about 0.05-2 bpp where the codec gets there.
SWEEPS: Mapping[str, Sweep] = {sweep.name: sweep for sweep in (
    Sweep("jpeg", "JPEG (libjpeg via Pillow), 4:2:0, optimised Huffman tables", "quality",
          (1, 5, 10, 15, 20, 30, 50, 70, 80, 88),
          lambda q: PillowCodec("JPEG", {"quality": int(q), "optimize": True}),
          _module("PIL")),
    Sweep("webp", "WebP lossy (libwebp via Pillow), method 6", "quality",
          (0, 5, 15, 30, 50, 70, 80, 88, 92),
          lambda q: PillowCodec("WEBP", {"quality": int(q), "method": 6}),
          _pillow_feature("webp")),
    Sweep("jpeg2000", "JPEG 2000 (OpenJPEG via Pillow), 9/7 wavelet, one layer at a target "
          "rate", "bpp", (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0),
          lambda bpp: PillowCodec("JPEG2000", {"quality_mode": "rates",
                                               "quality_layers": [24.0 / bpp],
                                               "irreversible": True, "mct": 1}),
          _pillow_feature("jpg_2000")),
    Sweep("avif", "AVIF (libavif/AV1 via Pillow), 4:4:4, speed 6", "quality",
          (0, 8, 18, 30, 40, 50, 60, 70, 80, 86),
          lambda q: PillowCodec("AVIF", {"quality": int(q), "subsampling": "4:4:4", "speed": 6}),
          _pillow_feature("avif")),
    Sweep("jpegxl", "JPEG XL (libjxl via imagecodecs), effort 7", "distance",
          (25, 15, 10, 7, 5, 3.5, 2.5, 1.5, 1.0),
          lambda d: JpegXLCodec(float(d)),
          _module("imagecodecs", "JPEGXL")),
    Sweep("hevc", "HEVC intra (x265 via libheif/pillow-heif), HEIF, 4:4:4, tune psnr", "quality",
          (0, 5, 10, 15, 20, 25, 30, 35, 40, 48, 56),
          lambda q: HeifCodec(int(q)),
          _module("pillow_heif")),
)}

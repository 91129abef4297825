"""Reading, normalising and writing 8-bit RGB images.

``read_image`` turns any image file Pillow opens into uint8 RGB: 16-bit and 32-bit
grayscale and floating-point images are scaled to 8 bits, palette, bilevel, CMYK, LAB,
HSV and YCbCr images are converted, alpha is dropped, the EXIF orientation is applied and
colour profiles are converted to sRGB. Each such step is reported as a
``ConversionNote`` warning; what cannot be converted faithfully is refused with
``ValueError``.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import warnings
from typing import Iterator

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pgm", ".pnm", ".tif",
                  ".tiff")
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's MAX_IMAGE_PIXELS
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")
_ORIENTATION = 0x0112  # EXIF tag


class ConversionNote(UserWarning):
    """An image was converted on its way to 8-bit RGB (bit depth, colour space, alpha)."""


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[pathlib.Path]:
    """Image files (by suffix) under ``folder``, sorted.

    Raises ``FileNotFoundError`` if the folder does not exist and ``ValueError`` if it
    holds no image file.
    """
    root = pathlib.Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    candidates = root.rglob("*") if recursive else root.iterdir()
    paths = sorted(p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return paths


def to_rgb(image: np.ndarray) -> np.ndarray:
    """``uint8`` ``[H, W, 3]`` from a uint8 grayscale ``[H, W]``/``[H, W, 1]``, RGB or RGBA
    array (alpha is dropped with a warning). Raises ``ValueError`` for anything else."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8 arrays, got dtype {image.dtype} (scale other "
                         "bit depths to 8 bits first; jaxlic.images.read_image does so for "
                         "files)")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], "
                         f"got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.shape[-1] == 4:
        warnings.warn("dropping the alpha channel of an RGBA image", ConversionNote,
                      stacklevel=2)
        image = image[..., :3]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image)


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS
               ) -> np.ndarray:
    """Decode an image file to ``uint8 [H, W, 3]`` (see the module docstring).

    Images of more than ``max_pixels`` pixels (None: no limit) are refused before they
    are decoded. ``ValueError`` if the file is unreadable or cannot be converted.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with _pixel_limit(max_pixels), Image.open(path) as img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ValueError(f"{path} is {img.width}x{img.height} "
                                 f"({img.width * img.height:,} pixels), more than the limit "
                                 f"of {max_pixels:,}")
            if getattr(img, "n_frames", 1) > 1:
                _note(path, f"using the first of its {img.n_frames} frames")
            wide = any(";16" in str(tile.args) for tile in img.tile)
            img.load()
            if img.getexif().get(_ORIENTATION, 1) in range(2, 9):
                _note(path, "turned upright as its EXIF orientation says")
                img = ImageOps.exif_transpose(img)
            pixels = _rgb8(img, path, wide)
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from e
    return to_rgb(pixels)


@contextlib.contextmanager
def _pixel_limit(max_pixels: int | None) -> Iterator[None]:
    """Let Pillow open images up to ``max_pixels`` (its own bomb check stops at twice its
    ``MAX_IMAGE_PIXELS``, and warns above it; ``read_image`` applies the caller's limit)."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    raise_limit = saved is not None and (max_pixels is None or max_pixels > saved)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if raise_limit:
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            if raise_limit:
                Image.MAX_IMAGE_PIXELS = saved


def _note(path: str | os.PathLike, text: str) -> None:
    warnings.warn(f"{path}: {text}", ConversionNote, stacklevel=3)


def _rgb8(img, path: str | os.PathLike, wide: bool) -> np.ndarray:
    """uint8 ``[H, W, 3]`` of a loaded Pillow image."""
    mode = img.mode
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(img).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{path}: 32-bit integer image with values outside 0..65535; "
                             "convert it to 8 or 16 bits first")
        _note(path, "16-bit grayscale scaled to 8 bits")
        return ((values * 255 + 32767) // 65535).astype(np.uint8)
    if mode == "F":
        values = np.asarray(img, np.float64)
        if not (np.all(np.isfinite(values)) and values.min(initial=0) >= 0
                and values.max(initial=0) <= 1):
            raise ValueError(f"{path}: floating-point image with values outside [0, 1]; "
                             "convert it to 8 or 16 bits first")
        _note(path, "floating-point grayscale scaled to 8 bits")
        return np.round(values * 255.0).astype(np.uint8)
    if wide:
        _note(path, "16 bits per channel reduced to 8")
    if mode in _ALPHA or (mode == "P" and "transparency" in img.info):
        _note(path, "dropping the alpha channel")
        img = img.convert("LA" if mode == "La" else "RGBA")
    if mode == "LAB":
        from PIL import ImageCms

        _note(path, "converted from CIELAB to sRGB")
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        return np.asarray(ImageCms.applyTransform(
            img, ImageCms.buildTransform(lab, srgb, "LAB", "RGB")))
    profile = img.info.get("icc_profile")
    if profile:
        img = _to_srgb(img, profile, path)
    if mode == "CMYK" and not profile:
        _note(path, "CMYK converted to RGB without a colour profile")
    try:
        return np.asarray(img.convert("RGB"))
    except ValueError as e:
        raise ValueError(f"{path}: cannot convert image mode {mode} to RGB: {e}") from e


def _to_srgb(img, profile: bytes, path: str | os.PathLike):
    """The image converted from its embedded ICC profile to sRGB (RGB mode), or unchanged
    with a note if the profile cannot be used."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if ImageCms.getProfileDescription(source).strip().lower().startswith("srgb"):
            return img
        mode = img.mode if img.mode in ("RGB", "CMYK", "L") else img.convert("RGB").mode
        converted = ImageCms.profileToProfile(img.convert(mode), source,
                                              ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as e:
        _note(path, f"ignoring its colour profile, which cannot be used ({e})")
        return img
    _note(path, f"converted from its colour profile "
                f"({ImageCms.getProfileDescription(source).strip()}) to sRGB")
    return converted


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``uint8 [H, W, 3]`` (format from the file extension, e.g. PNG)."""
    from PIL import Image

    Image.fromarray(to_rgb(image)).save(path)

"""Reading, normalising and writing 8-bit RGB images."""

from __future__ import annotations

import os
import pathlib
import warnings

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pgm", ".pnm", ".tif",
                  ".tiff")


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
        raise ValueError(f"images must be uint8 arrays, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], "
                         f"got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.shape[-1] == 4:
        warnings.warn("dropping the alpha channel of an RGBA image", stacklevel=2)
        image = image[..., :3]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to ``uint8 [H, W, 3]`` (grayscale, palette, 16-bit and alpha
    images are converted; alpha is dropped with a warning). ``ValueError`` if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if "A" in img.getbands() or img.mode in ("P", "PA") and "transparency" in img.info:
                warnings.warn(f"{path}: dropping the alpha channel", stacklevel=2)
            return to_rgb(np.asarray(img.convert("RGB")))
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from e


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``uint8 [H, W, 3]`` (format from the file extension, e.g. PNG)."""
    from PIL import Image

    Image.fromarray(to_rgb(image)).save(path)

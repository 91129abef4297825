"""Reading, normalising and writing 8-bit RGB images."""

from __future__ import annotations

import os
import warnings

import numpy as np


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

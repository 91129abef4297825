"""Test images: find them in a folder and read them as uint8 RGB arrays (``jaxlic.images``)."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from jaxlic.images import read_image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif",
                            ".tiff", ".webp"})


@dataclasses.dataclass(frozen=True)
class EvalImage:
    """One image: ``pixels`` is uint8 ``[H, W, 3]`` RGB; ``name`` is the file name."""

    name: str
    pixels: np.ndarray


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A file that could not be used, and why."""

    name: str
    reason: str


def find_images(folder: str | pathlib.Path) -> list[pathlib.Path]:
    """Image files directly in ``folder`` (by suffix), sorted by name.

    Raises ``ValueError`` when the folder does not exist or holds no image files.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return paths


def load_images(folder: str | pathlib.Path) -> tuple[list[EvalImage], list[Skipped]]:
    """Read every image in ``folder`` as RGB (grey and palette converted, alpha dropped);
    unreadable files are returned as ``Skipped``.

    Raises ``ValueError`` when no file in the folder can be read.
    """
    images, skipped = [], []
    for path in find_images(folder):
        try:
            images.append(EvalImage(path.name, read_image(path)))
        except ValueError as error:
            skipped.append(Skipped(path.name, str(error)))
    if not images:
        raise ValueError(f"none of the {len(skipped)} image files in {folder} could be read")
    return images, skipped

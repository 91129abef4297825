"""Test images: read a folder of them as uint8 RGB arrays (with ``jaxlic.images``)."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from jaxlic.images import list_images, read_image


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


def load_images(folder: str | pathlib.Path) -> tuple[list[EvalImage], list[Skipped]]:
    """Read every image file directly in ``folder`` (by suffix, sorted by name) as RGB
    (grey and palette converted, alpha dropped); unreadable files are returned as ``Skipped``.

    Raises ``ValueError`` when the folder does not exist, holds no image file or none that
    can be read.
    """
    try:
        paths = list_images(folder, recursive=False)
    except FileNotFoundError as error:
        raise ValueError(str(error)) from error
    images, skipped = [], []
    for path in paths:
        try:
            images.append(EvalImage(path.name, read_image(path)))
        except ValueError as error:
            skipped.append(Skipped(path.name, str(error)))
    if not images:
        raise ValueError(f"none of the {len(skipped)} image files in {folder} could be read")
    return images, skipped

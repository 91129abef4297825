"""Image folders for evaluation: conversion to RGB, unreadable files, empty folders."""

import numpy as np
import pytest
from PIL import Image

from jaxlic.eval.images import load_images


def test_modes_are_converted_and_bad_files_skipped(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 128, np.uint8)])).save(tmp_path / "rgba.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    with pytest.warns(UserWarning, match="alpha"):
        images, skipped = load_images(tmp_path)
    assert [i.name for i in images] == ["grey.png", "palette.png", "rgb.png", "rgba.png"]
    assert all(i.pixels.shape == (20, 30, 3) and i.pixels.dtype == np.uint8 for i in images)
    np.testing.assert_array_equal(images[2].pixels, rgb)
    np.testing.assert_array_equal(images[3].pixels, rgb)
    assert [s.name for s in skipped] == ["broken.png"] and "cannot read" in skipped[0].reason


def test_empty_or_unreadable_folders_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        load_images(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_images(tmp_path / "missing")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="none of the 1 image files"):
        load_images(tmp_path)

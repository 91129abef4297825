"""Reading image files of every common mode as 8-bit RGB, with notes, or refusing them."""

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from jaxlic.images import ConversionNote, read_image


def _read(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = read_image(path, **kwargs)
    notes = " | ".join(str(w.message) for w in caught if w.category is ConversionNote)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[-1] == 3
    return pixels, notes


def _png16(path, values, color_type):
    """A 16-bit PNG written by hand (Pillow writes only grayscale at 16 bits)."""
    h, w = values.shape[:2]
    raw = b"".join(b"\x00" + values[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, body):
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(17219, 59881, (6, 7)).astype(np.uint16)
    Image.fromarray(gray).save(tmp_path / "g16.png")
    pixels, notes = _read(tmp_path / "g16.png")
    np.testing.assert_array_equal(pixels[..., 0], np.round(gray / 257.0).astype(np.uint8))
    assert "16-bit grayscale scaled to 8 bits" in notes
    rgb = rng.integers(0, 65536, (5, 4, 3)).astype(np.uint16)
    _png16(tmp_path / "rgb16.png", rgb, 2)
    pixels, notes = _read(tmp_path / "rgb16.png")
    np.testing.assert_array_equal(pixels, (rgb >> 8).astype(np.uint8))
    assert "16 bits per channel reduced to 8" in notes


@pytest.mark.parametrize("mode, value, expected, note", [
    ("1", 1, (255, 255, 255), ""),
    ("L", 77, (77, 77, 77), ""),
    ("LA", (77, 9), (77, 77, 77), "alpha"),
    ("RGBA", (1, 2, 3, 4), (1, 2, 3), "alpha"),
    ("CMYK", (0, 255, 255, 0), (255, 0, 0), "CMYK converted"),
    ("YCbCr", (76, 85, 255), (254, 0, 0), ""),
    ("LAB", (128, 128, 128), (119, 119, 119), "CIELAB"),
    ("F", 0.5, (128, 128, 128), "floating-point grayscale"),
    ("I", 65535, (255, 255, 255), "16-bit"),
])
def test_modes_are_converted(tmp_path, mode, value, expected, note):
    path = tmp_path / f"{mode}.tif"
    Image.new(mode, (3, 2), value).save(path)
    pixels, notes = _read(path)
    np.testing.assert_allclose(pixels[0, 0], expected, atol=1)
    assert note in notes


def test_palette_with_transparency_drops_alpha(tmp_path):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    img.save(tmp_path / "p.png", transparency=0)
    pixels, notes = _read(tmp_path / "p.png")
    assert tuple(pixels[0, 0]) == (10, 20, 30) and "alpha" in notes


@pytest.mark.parametrize("values, message", [
    (np.full((3, 3), 2.5, np.float32), "floating-point image with values outside"),
    (np.full((3, 3), -70000, np.int32), "32-bit integer image"),
])
def test_unconvertible_images_are_refused(tmp_path, values, message):
    Image.fromarray(values).save(tmp_path / "x.tif")
    with pytest.raises(ValueError, match=message):
        read_image(tmp_path / "x.tif")


def test_exif_orientation_frames_and_pixel_limit(tmp_path):
    img = Image.new("RGB", (6, 2), (10, 20, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "o.jpg", exif=exif.tobytes())
    pixels, notes = _read(tmp_path / "o.jpg")
    assert pixels.shape == (6, 2, 3) and "upright" in notes
    frames = [Image.new("L", (4, 4), v) for v in (10, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    pixels, notes = _read(tmp_path / "a.gif")
    assert "first of its 2 frames" in notes
    with pytest.raises(ValueError, match="more than the limit of 10"):
        read_image(tmp_path / "o.jpg", max_pixels=10)

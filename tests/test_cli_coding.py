"""``jaxlic compress``, ``decompress`` and ``demo`` on a tiny weights file."""

import numpy as np
import pytest
from PIL import Image

from jaxlic import Codec
from jaxlic.cli import main


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, tiny_config, tiny_params):
    path = tmp_path_factory.mktemp("w") / "tiny.npz"
    Codec(tiny_config, tiny_params).save(path)
    return path


def test_compress_decompress_roundtrip(tmp_path, weights_file, capsys):
    image = (np.random.default_rng(0).uniform(0, 255, (50, 70, 4))).astype(np.uint8)
    Image.fromarray(image, "RGBA").save(tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "--weights", str(weights_file)]) == 0
    out = capsys.readouterr().out
    assert "bpp" in out and (tmp_path / "in.jlic").exists()
    assert main(["decompress", str(tmp_path / "in.jlic"), str(tmp_path / "out.png"),
                 "--weights", str(weights_file)]) == 0
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (50, 70, 3)


def test_errors_are_reported_not_raised(tmp_path, weights_file, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert main(["compress", str(tmp_path / "bad.png"), "--weights", str(weights_file)]) == 2
    assert "cannot read image" in capsys.readouterr().err
    (tmp_path / "bad.jlic").write_bytes(b"JLIC" + bytes(40))
    assert main(["decompress", str(tmp_path / "bad.jlic"), "--weights", str(weights_file)]) == 2
    assert "invalid file" in capsys.readouterr().err


def test_demo_with_weights(tmp_path, weights_file, capsys):
    assert main(["demo", "--weights", str(weights_file), "--output", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "bpp" in out and "PSNR" in out
    assert np.asarray(Image.open(tmp_path / "d.png")).shape == (256, 384, 3)

"""The coding commands over a table of bad inputs: one line on stderr, exit status 2, no
traceback, nothing written; and the notes and outputs of unusual but valid inputs."""

import re

import numpy as np
import pytest
from PIL import Image

from jaxlic import Codec, zoo
from jaxlic.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_config, tiny_params):
    root = tmp_path_factory.mktemp("cli")
    Codec(tiny_config, tiny_params).save(root / "tiny.npz")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 56, 3)).astype(np.uint8)).save(root / "rgb.png")
    Image.fromarray(rng.integers(17219, 59881, (40, 56)).astype(np.uint16)).save(root / "g16.png")
    Image.fromarray(np.full((8, 8), 2.5, np.float32)).save(root / "hdr.tif")
    (root / "broken.png").write_bytes(b"\x89PNG broken")
    (root / "notes.txt").write_text("not weights\n")
    (root / "folder").mkdir()
    assert main(["compress", str(root / "rgb.png"), "--weights", str(root / "tiny.npz")]) == 0
    return root


def _cases(root):
    w = ["--weights", str(root / "tiny.npz")]
    rgb, jlic = str(root / "rgb.png"), str(root / "rgb.jlic")
    return [
        (["compress", str(root / "missing.png"), *w], "no such file"),
        (["compress", str(root / "folder"), *w], "is not a file"),
        (["compress", str(root / "broken.png"), *w], "cannot read image"),
        (["compress", rgb, str(root / "nowhere" / "out.jlic"), *w], "folder .* does not exist"),
        (["compress", rgb, str(root / "folder"), *w], "is a folder"),
        (["compress", rgb, str(root / "out.png"), *w], "image suffix"),
        (["compress", rgb, "--weights", str(root / "g16.png")], "not a jaxlic weights file"),
        (["compress", rgb, "--weights", str(root / "notes.txt")], "not a jaxlic weights file"),
        (["compress", rgb, "--weights", str(root / "none.npz")], "no such weights file"),
        (["compress", str(root / "hdr.tif"), *w], "floating-point image with values outside"),
        (["compress", rgb, "--max-pixels", "1000", *w], "more than the limit of 1,000"),
        (["compress", rgb, "--quality", "3", *w], "fixed rate"),
        (["decompress", jlic, str(root / "out.xyz"), *w], "unknown image format .xyz"),
        (["decompress", jlic, str(root / "out"), *w], "unknown image format"),
        (["decompress", jlic, str(root / "nowhere" / "x.png"), *w], "does not exist"),
        (["decompress", rgb, str(root / "x.png"), *w], "invalid file .*bad magic"),
        (["decompress", jlic, str(root / "x.png"), "--max-pixels", "100", *w],
         "decompression bomb"),
        (["decompress", str(root / "missing.jlic"), *w], "no such file"),
        (["demo", "--output", str(root / "demo.xyz"), *w], "unknown image format"),
    ]


def test_bad_inputs_give_one_line_and_status_2(files, capsys):
    before = sorted(p.name for p in files.iterdir())
    for argv, message in _cases(files):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"jaxlic {argv[0]}: "), (argv, lines)
        assert re.search(message, lines[0]), (argv, lines[0])
        assert "Traceback" not in captured.err and "pickle" not in captured.err
        assert captured.out == ""
    assert sorted(p.name for p in files.iterdir()) == before


def test_missing_default_model_is_explained(files, capsys, monkeypatch):
    monkeypatch.setattr(zoo, "_index", lambda: {"default": None, "models": {}})
    assert main(["compress", str(files / "rgb.png")]) == 2
    assert "ships no trained weights yet; pass a weights file" in capsys.readouterr().err


def test_sixteen_bit_input_is_scaled_with_a_note(files, capsys):
    w = ["--weights", str(files / "tiny.npz")]
    assert main(["compress", str(files / "g16.png"), *w]) == 0
    captured = capsys.readouterr()
    assert "note: " in captured.err and "16-bit grayscale scaled to 8 bits" in captured.err
    assert "compressed " in captured.out and "g16.jlic" in captured.out
    assert main(["decompress", str(files / "g16.jlic"), str(files / "g16_out.bmp"), *w,
                 "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "decompressed " in out and "synthesis" in out and "y_coding" in out
    assert np.asarray(Image.open(files / "g16_out.bmp")).shape == (40, 56, 3)

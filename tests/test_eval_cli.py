"""The eval, bench-codecs, bd-rate and plot commands, called through ``main([...])``."""

import csv
import json
import os
import sys

import pytest
from PIL import Image

from jaxlic.cli import main
from tests.conftest import REFERENCE
from tests.test_eval_runner import synthetic


@pytest.fixture
def folder(tmp_path):
    """Two 192x180 PNGs and one unreadable file."""
    path = tmp_path / "images"
    path.mkdir()
    for seed in range(2):
        Image.fromarray(synthetic(180, 192, seed)).save(path / f"img{seed}.png")
    (path / "broken.png").write_bytes(b"not a png")
    return path


def test_bench_codecs_writes_json_and_csv(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["bench-codecs", str(folder), "--codecs", "webp", "--values", "10,60",
                 "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "skipped broken.png" in text and "1 unreadable files skipped" in text
    data = json.loads((out / "webp.json").read_text())
    assert data["name"] == "webp" and "2 CPUs" in data["description"]
    assert data["results"]["setting"] == ["quality=10", "quality=60"]
    assert data["results"]["images"] == [2, 2]
    assert data["results"]["bpp"][0] < data["results"]["bpp"][1]
    assert [s["image"] for s in data["skipped"]] == ["broken.png"]
    rows = list(csv.DictReader((out / "webp.csv").open()))
    assert len(rows) == 4 and {r["image"] for r in rows} == {"img0.png", "img1.png"}


def test_bench_codecs_bad_input(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bench-codecs", str(empty), "--codecs", "jpeg", "-o", str(tmp_path)]) == 2
    assert "no image files" in capsys.readouterr().err
    assert main(["bench-codecs", str(empty), "--values", "1,2", "-o", str(tmp_path)]) == 2
    assert "exactly one codec" in capsys.readouterr().err
    # A codec whose library is not installed is skipped with a note.
    Image.fromarray(synthetic(32, 32)).save(empty / "a.png")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    assert main(["bench-codecs", str(empty), "--codecs", "hevc", "-o", str(tmp_path)]) == 0
    assert "hevc: skipped, pillow_heif is not installed" in capsys.readouterr().out
    assert not (tmp_path / "hevc.json").exists()


def test_eval_with_a_weights_file(tmp_path, capsys, monkeypatch, tiny_config, tiny_params):
    from jaxlic import Codec

    monkeypatch.setenv("JAXLIC_CACHE_DIR", os.environ["JAX_COMPILATION_CACHE_DIR"])
    weights = tmp_path / "tiny.jlw"
    Codec(tiny_config, tiny_params).save(weights)  # = Codec.random(ModelConfig.tiny(), 0)
    bad = tmp_path / "bad.jlw"
    bad.write_bytes(b"not weights")
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(synthetic(64, 64)).save(images / "a.png")
    argv = ["eval", str(images), str(weights), str(bad), "--name", "tiny", "-o", str(tmp_path)]
    assert main(argv) == 1  # the bad weights file is reported, the good one measured
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data["results"]["setting"] == [str(weights)]
    assert data["results"]["bpp"][0] > 0 and data["results"]["ms-ssim-rgb"] == [None]
    assert data["skipped"][0]["setting"] == str(bad)
    assert "failed (codec) at" in capsys.readouterr().out
    assert main(["eval", str(images), str(tmp_path / "missing.jlw")]) == 2
    assert "no such weights file" in capsys.readouterr().err
    # --refine: these weights record no training lambda, so the point fails and says why.
    argv = ["eval", str(images), str(weights), "--refine", "3", "--name", "refined",
            "-o", str(tmp_path)]
    assert main(argv) == 1
    data = json.loads((tmp_path / "refined.json").read_text())
    assert data["skipped"][0]["setting"] == f"{weights}+refine3"
    assert "lambda" in data["skipped"][0]["reason"]


def _write_curve(path, name, bpp, psnr, ms_ssim=None):
    results = {"bpp": bpp, "psnr-rgb": psnr}
    if ms_ssim:
        results["ms-ssim-rgb"] = ms_ssim
    path.write_text(json.dumps({"name": name, "description": "", "results": results}))


def test_plot_and_bd_rate(tmp_path, capsys):
    curves = tmp_path / "curves"
    curves.mkdir()
    _write_curve(curves / "a.json", "a", [0.2, 0.5, 1.0], [28.0, 32.0, 36.0], [0.9, 0.95, 0.98])
    _write_curve(curves / "b.json", "b", [0.18, 0.45, 0.9], [28.0, 32.0, 36.0])
    anchors = ["--anchors", str(REFERENCE)] if REFERENCE.exists() else []
    assert main(["plot", str(curves), *anchors, "-o", str(tmp_path / "rd"), "--max-bpp", "2"]) == 0
    for metric in ("psnr", "ms-ssim"):
        for suffix in ("png", "svg"):
            assert (tmp_path / f"rd_{metric}.{suffix}").stat().st_size > 1000
    capsys.readouterr()
    assert main(["bd-rate", str(curves / "a.json"), str(curves), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["name"] for r in rows] == ["b"] and rows[0]["bd_rate_percent"] == pytest.approx(-10)
    assert main(["bd-rate", str(curves / "b.json"), str(curves), "--metric", "ms-ssim"]) == 2
    assert main(["plot", str(tmp_path / "nothing.json")]) == 2


def test_bd_rate_table_of_the_references(capsys):
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not available")
    assert main(["bd-rate", str(REFERENCE / "kodak_vtm-9.1.json"), str(REFERENCE)]) == 0
    table = capsys.readouterr().out
    assert "| cheng2020-official | +3.4 % |" in table and "| bpg444 | +22.0 % |" in table

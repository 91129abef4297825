"""The evaluation runner, the classical codecs and the results files."""

import csv
import json
import math
import sys

import numpy as np
import pytest

from jaxlic.eval import classical, results
from jaxlic.eval.distortion import psnr_rgb
from jaxlic.eval.images import EvalImage
from jaxlic.eval.runner import Setting, evaluate, evaluate_settings, measure


def synthetic(h, w, seed=0):
    """A smooth uint8 RGB pattern with noise, ``[h, w, 3]``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 90 * np.sin(x / 9.0 + seed) * np.cos(y / 13.0)
    image = base[..., None] + 30 * np.sin(np.arange(3) + x[..., None] / 17.0)
    return np.clip(image + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images():
    """Two images large enough for MS-SSIM and one that is not."""
    return [EvalImage("a.png", synthetic(180, 192, 0)), EvalImage("b.png", synthetic(192, 176, 1)),
            EvalImage("small.png", synthetic(64, 96, 2))]


JPEG = classical.SWEEPS["jpeg"]


def test_measure_counts_bytes_and_distortion(images):
    codec = JPEG.make(50)
    result = measure(codec, images[0])
    data = codec.compress(images[0].pixels)
    assert result.num_bytes == len(data) and result.bpp == 8 * len(data) / (180 * 192)
    assert result.psnr_rgb == pytest.approx(psnr_rgb(images[0].pixels, codec.decompress(data)))
    assert 0.5 < result.ms_ssim_rgb < 1
    expected = -10 * math.log10(1 - result.ms_ssim_rgb)
    assert result.ms_ssim_rgb_db == pytest.approx(expected, rel=1e-5)
    assert result.encoding_time > 0 and result.decoding_time > 0
    assert measure(codec, images[2]).ms_ssim_rgb is None  # under 176 px


def test_quality_sweep_is_monotone(images):
    points = evaluate_settings(JPEG.settings((5, 30, 90)), images)
    assert [p.setting for p in points] == ["quality=5", "quality=30", "quality=90"]
    summary = results.summarize("jpeg", "test", points)["results"]
    assert summary["bpp"] == sorted(summary["bpp"])
    assert summary["psnr-rgb"] == sorted(summary["psnr-rgb"])
    assert summary["ms-ssim-rgb"] == [None] * 3  # one image is too small: no dataset mean
    assert summary["images"] == [3, 3, 3]


@pytest.mark.parametrize("name", sorted(classical.SWEEPS))
def test_classical_codec_roundtrip(name, images):
    sweep = classical.SWEEPS[name]
    if note := sweep.missing():
        pytest.skip(note)
    low, high = (measure(sweep.make(v), images[0]) for v in (sweep.values[1], sweep.values[-1]))
    assert 0 < low.bpp < high.bpp
    assert 15 < low.psnr_rgb < high.psnr_rgb


def test_codec_failures_are_reported():
    class Broken:
        def compress(self, image):
            if image.shape[0] == 1:
                raise RuntimeError("too small")
            return image.tobytes()

        def decompress(self, data):
            return np.frombuffer(data, np.uint8).reshape(8, 8, 3)

    found, failed = evaluate(Broken(), [EvalImage("ok", synthetic(8, 8)),
                                        EvalImage("bad", synthetic(1, 8))])
    assert [r.image for r in found] == ["ok"] and found[0].psnr_rgb == math.inf
    assert [(f.name, f.reason) for f in failed] == [("bad", "RuntimeError: too small")]

    def cannot_load():
        raise OSError("no weights")

    (point,) = evaluate_settings([Setting("w.jlw", cannot_load)],
                                 [EvalImage("ok", synthetic(8, 8))])
    assert point.images == [] and "no weights" in point.failures[0].reason


def test_one_untimed_warm_up_per_image_shape():
    class Counting:
        calls = 0

        def compress(self, image):
            self.calls += 1
            return image.tobytes() + bytes(image.shape)

        def decompress(self, data):
            h, w, c = data[-3:]
            return np.frombuffer(data[:-3], np.uint8).reshape(h, w, c)

    codec = Counting()
    shapes = [(8, 8), (8, 8), (6, 8), (8, 8), (6, 8)]
    found, _ = evaluate(codec, [EvalImage(str(i), synthetic(*s)) for i, s in enumerate(shapes)])
    assert len(found) == 5 and codec.calls == 5 + 2


def test_json_and_csv_formats(tmp_path, images):
    points = evaluate_settings(JPEG.settings((20,)), images[:2])
    points += evaluate_settings([Setting("lossless", lambda: classical.PillowCodec("PNG", {}))],
                                images[:2])
    summary = results.summarize("codec", "desc", points)
    results.write_json(tmp_path / "r.json", summary)
    results.write_csv(tmp_path / "r.csv", "codec", points)
    data = json.loads((tmp_path / "r.json").read_text())
    assert {"name", "description", "results"} <= set(data)
    for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-rgb-db", "encoding_time",
                "decoding_time", "setting"):
        assert len(data["results"][key]) == 2, key
    assert data["results"]["psnr-rgb"][1] is None  # lossless: infinite PSNR is written as null
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert tuple(rows[0]) == results.CSV_COLUMNS and len(rows) == 4
    assert rows[0]["setting"] == "quality=20" and rows[0]["image"] == "a.png"
    curve = results.read_curve(tmp_path / "r.json")
    assert curve.name == "codec" and curve.quality("ms-ssim")[0] > 5


def test_missing_codec_gives_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import now raises ImportError
    assert "imagecodecs is not installed" in classical.SWEEPS["jpegxl"].missing()


def test_cli_codec_list_matches_sweeps():
    from jaxlic.cli.bench_codecs import CODECS

    assert CODECS == tuple(classical.SWEEPS)

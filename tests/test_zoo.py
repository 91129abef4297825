"""The shipped models: listed, loadable, documented, and trained (not random)."""

import hashlib
from importlib import resources

import numpy as np
import pytest

from jaxlic import zoo
from jaxlic.eval.distortion import psnr_rgb
from jaxlic.images import read_image

WEIGHTS = resources.files("jaxlic.zoo").joinpath("weights")
CARDS = resources.files("jaxlic.zoo").joinpath("cards")


def test_index_entries_point_at_files_and_cards():
    models = zoo.available()
    assert zoo.default_name() in models
    for name, entry in models.items():
        data = WEIGHTS.joinpath(entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        card = CARDS.joinpath(entry["card"]).read_text()
        assert name in card and "Kodak" in card


@pytest.fixture(scope="module")
def default_codec():
    return zoo.load()


def test_default_model_matches_its_index_entry(default_codec):
    entry = zoo.available()[zoo.default_name()]
    assert default_codec.model_id.hex() == entry["model_id"]
    assert default_codec.config.latent_channels == entry["latent_channels"]
    assert default_codec.config.rate_levels == len(entry["level_lmbdas"])


def test_default_model_is_trained_and_spans_its_qualities(default_codec):
    with resources.as_file(resources.files("jaxlic.data").joinpath("sample.png")) as path:
        image = read_image(path)[:128, :192]
    small, best = (default_codec.compress(image, quality=q) for q in (1, 8))
    assert len(small) < len(best)
    psnr_small, psnr_best = (psnr_rgb(image, default_codec.decompress(f)) for f in (small, best))
    # An untrained model gives about 5 dB; the shipped one is well above at both ends.
    assert 20.0 < psnr_small < psnr_best
    assert psnr_best > 24.0


def test_cli_uses_the_default_model_without_options(tmp_path, capsys, default_codec):
    from PIL import Image

    from jaxlic.cli import main

    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    assert main(["compress", str(tmp_path / "photo.png"), "--no-progress"]) == 0
    data = (tmp_path / "photo.jlic").read_bytes()
    np.testing.assert_array_equal(default_codec.decompress(data),
                                  default_codec.decompress(default_codec.compress(image)))
    assert main(["decompress", str(tmp_path / "photo.jlic"), str(tmp_path / "out.png"),
                 "--no-progress"]) == 0
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (40, 56, 3)
    assert zoo.default_name() in capsys.readouterr().out

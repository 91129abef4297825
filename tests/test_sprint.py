"""The budgeted accelerator training program, end to end on CPU with the tiny model."""

import json
import shutil

import numpy as np
import pytest

from jaxlic import Codec
from tests.conftest import BSDS, KODAK
from train import sprint


def test_split_and_join_pieces(tmp_path):
    data = np.random.default_rng(0).bytes(2500)
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    pieces = sprint.split_file(path, 1000)
    assert [p.name for p in pieces] == ["w.npz.part000", "w.npz.part001", "w.npz.part002"]
    assert not path.exists()
    assert sprint.join_pieces(path, tmp_path / "joined").read_bytes() == data
    with pytest.raises(FileNotFoundError):
        sprint.join_pieces(tmp_path / "missing.npz", tmp_path / "x")


def test_sprint_trains_exports_and_resumes(tmp_path):
    train_dir = BSDS / "train"
    if not train_dir.exists():
        pytest.skip("bsds500 not available")
    data = tmp_path / "data"
    data.mkdir()
    for path in sorted(train_dir.glob("*.jpg"))[:4]:
        shutil.copy(path, data / path.name)
    (data / "broken.png").write_bytes(b"not an image")
    val = tmp_path / "val"
    val.mkdir()
    shutil.copy(KODAK / "kodim01.png", val / "kodim01.png")
    common = ["--data", str(data), "--batch", "1", "--crop", "64", "--steps_per_chunk", "2",
              "--lr", "1e-3", "--piece_mib", "0.25"]
    first = sprint.main(common + ["--preset", "tiny", "--out", str(tmp_path / "a"),
                                  "--budget_seconds", "0.5", "--val", str(val)])
    assert first["steps"] >= 2 and first["first_step"] == 0 and first["images"] == 4
    assert np.isfinite(first["validation_estimate"]["psnr"])
    pieces = sorted((tmp_path / "a").glob("weights-f32.npz.part*"))
    assert len(pieces) >= 2 and all(p.stat().st_size <= 0.25 * 2**20 for p in pieces)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["model_id"] == first["model_id"] and summary["log"]

    second = sprint.main(common + ["--out", str(tmp_path / "b"), "--budget_seconds", "0.1",
                                   "--resume", str(tmp_path / "a" / "weights-f16.npz")])
    assert second["first_step"] == first["total_step"]
    assert second["total_step"] == first["total_step"] + second["steps"]
    weights = sprint.join_pieces(tmp_path / "b" / "weights-f32.npz", tmp_path / "w.npz")
    codec = Codec.load(weights)
    assert codec.model_id.hex() == second["model_id"]
    image = np.zeros((20, 30, 3), np.uint8)
    assert codec.decompress(codec.compress(image)).shape == image.shape

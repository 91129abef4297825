"""The training loop end to end on the tiny model: exact resumption, logs, checkpoints,
export, and the errors a user can run into. One compiled step serves every run here."""

import json

import jax
import numpy as np
import pytest
from PIL import Image

from configs import tiny_cpu
from jaxlic import Codec, ModelConfig, WeightsError
from train import loop
from train.checkpoint import Checkpointer
from train.export import export


def _config(train_dir, val_dir, num_steps):
    c = tiny_cpu.get_config()
    c.data.train_dir, c.val.dir = str(train_dir), str(val_dir)
    c.data.num_workers, c.batch_size, c.num_steps = 0, 2, num_steps
    c.log_every, c.checkpoint_every, c.keep_checkpoints, c.val.every = 5, 4, 2, 5
    c.progress_bar = False
    return c


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A: 10 steps straight. Run B: 5 steps, then resumed up to 10."""
    root = tmp_path_factory.mktemp("loop")
    rng = np.random.default_rng(0)
    for i in range(6):
        (root / "train").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (72, 80, 3), np.uint8)).save(root / f"train/{i}.png")
    (root / "val").mkdir()
    Image.fromarray(rng.integers(0, 256, (70, 64, 3), np.uint8)).save(root / "val/v.png")
    config = _config(root / "train", root / "val", 10)
    straight = loop.train_and_evaluate(config, root / "a")
    loop.train_and_evaluate(_config(root / "train", root / "val", 5), root / "b")
    resumed = loop.train_and_evaluate(config, root / "b", resume=True)
    return root, config, straight, resumed


def test_resumed_run_equals_straight_run(runs):
    _, _, straight, resumed = runs
    assert int(straight.step) == int(resumed.step) == 10 and int(straight.bad_step) == -1
    for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(resumed)):
        np.testing.assert_array_equal(a, b)


def test_metrics_logs_and_kept_checkpoints(runs):
    root = runs[0]
    lines = [json.loads(line) for line in (root / "a/metrics.jsonl").read_text().splitlines()]
    train = [m for m in lines if m["split"] == "train"]
    val = [m for m in lines if m["split"] == "val"]
    assert [m["step"] for m in train] == [5, 10] and [m["step"] for m in val] == [5, 10]
    for key in ["loss", "bpp_y", "bpp_z", "mse", "psnr", "lr", "aux_loss", "images_per_sec"]:
        assert np.isfinite(train[-1][key]), key
    assert val[-1]["bpp"] > 0 and np.isfinite(val[-1]["psnr"])
    events = b"".join(p.read_bytes() for p in (root / "a/tensorboard").iterdir())
    assert b"train/loss" in events and b"val/psnr" in events
    checkpointer = Checkpointer(root / "a", read_only=True)
    assert checkpointer.all_steps() == [8, 10]
    checkpointer.close()
    assert json.loads((root / "a/config.json").read_text())["num_steps"] == 10


def test_export_writes_weights_the_codec_loads(runs, tmp_path):
    root, _, straight, _ = runs
    path = tmp_path / "model.npz"
    export(root / "a", path)
    codec = Codec.load(path, config=ModelConfig.tiny())
    for a, b in zip(jax.tree_util.tree_leaves(codec.params),
                    jax.tree_util.tree_leaves(straight.params)):
        np.testing.assert_array_equal(np.asarray(a), b)
    with pytest.raises(WeightsError, match="not for the requested"):
        Codec.load(path, config=ModelConfig.n128())


def test_other_model_or_existing_run_is_a_clear_error(runs, tmp_path):
    root, config, _, _ = runs
    other = config.copy_and_resolve_references()
    other.model.latent_channels = 32
    with pytest.raises(ValueError, match="'latent_channels': 16.*'latent_channels': 32"):
        loop.train_and_evaluate(other, root / "a", resume=True)
    with pytest.raises(ValueError, match="'latent_channels': 16.*'latent_channels': 32"):
        export(root / "a", tmp_path / "x.npz", expected_model=other.model.to_dict())
    with pytest.raises(FileExistsError, match="--resume"):
        loop.train_and_evaluate(config, root / "a")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        export(tmp_path / "empty", tmp_path / "x.npz")


def test_non_finite_step_stops_naming_the_step():
    loop.check_finite(-1)
    with pytest.raises(loop.NonFiniteError, match="at step 1234"):
        loop.check_finite(1234)

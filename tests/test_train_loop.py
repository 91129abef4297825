"""The training loop end to end on the tiny model: exact resumption, logs, checkpoints,
export, and the errors a user can run into. One compiled step serves every run here but
the moving average's."""

import json

import jax
import numpy as np
import pytest
from PIL import Image

from configs import tiny_cpu
from jaxlic import Codec, ModelConfig, WeightsError
from jaxlic.training import ema_update
from train import loop
from train.checkpoint import Checkpointer
from train.export import add_to_zoo, export


def _config(train_dir, val_dir, num_steps):
    c = tiny_cpu.get_config()
    c.data.train_dir, c.val.dir = str(train_dir), str(val_dir)
    c.data.num_workers, c.batch_size, c.num_steps = 0, 2, num_steps
    c.log_every, c.checkpoint_every, c.keep_checkpoints, c.val.every = 5, 4, 2, 5
    c.progress_bar = False
    return c


def _images(folder, count, shape, rng):
    folder.mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, shape, np.uint8)).save(folder / f"{i}.png")


def test_resume_logs_checkpoints_export_and_errors(tmp_path):
    """One test, so that pytest-xdist never runs the three trainings on both workers."""
    rng = np.random.default_rng(0)
    _images(tmp_path / "train", 6, (72, 80, 3), rng)
    _images(tmp_path / "val", 1, (70, 64, 3), rng)
    config = _config(tmp_path / "train", tmp_path / "val", 10)
    straight = loop.train_and_evaluate(config, tmp_path / "a")
    loop.train_and_evaluate(_config(tmp_path / "train", tmp_path / "val", 5), tmp_path / "b")
    resumed = loop.train_and_evaluate(config, tmp_path / "b", resume=True)

    # 10 steps straight == 5 steps + resume + 5 steps, bit for bit.
    assert int(straight.step) == int(resumed.step) == 10 and int(straight.bad_step) == -1
    for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(resumed)):
        np.testing.assert_array_equal(a, b)

    # Metrics in metrics.jsonl and TensorBoard; the last 2 checkpoints kept; the config.
    lines = [json.loads(line) for line in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    train = [m for m in lines if m["split"] == "train"]
    val = [m for m in lines if m["split"] == "val"]
    assert [m["step"] for m in train] == [5, 10] and [m["step"] for m in val] == [5, 10]
    for key in ["loss", "bpp_y", "bpp_z", "mse", "psnr", "lr", "aux_loss", "grad_norm",
                "images_per_sec"]:
        assert np.isfinite(train[-1][key]), key
    assert val[-1]["bpp"] > 0 and np.isfinite(val[-1]["psnr"])
    events = b"".join(p.read_bytes() for p in (tmp_path / "a/tensorboard").iterdir())
    assert b"train/loss" in events and b"val/psnr" in events
    checkpointer = Checkpointer(tmp_path / "a", read_only=True)
    assert checkpointer.all_steps() == [8, 10]
    checkpointer.close()
    assert json.loads((tmp_path / "a/config.json").read_text())["num_steps"] == 10

    # Export: the codec loads the last parameters, and only for their configuration.
    export(tmp_path / "a", tmp_path / "model.npz")
    codec = Codec.load(tmp_path / "model.npz", config=ModelConfig.tiny())
    for a, b in zip(jax.tree_util.tree_leaves(codec.params),
                    jax.tree_util.tree_leaves(straight.params)):
        np.testing.assert_array_equal(np.asarray(a), b)
    with pytest.raises(WeightsError, match="not for the requested"):
        Codec.load(tmp_path / "model.npz", config=ModelConfig.n128())

    # Into a zoo: half-precision weights and an index entry that identifies them.
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo/index.json").write_text('{"default": null, "models": {}}')
    path = add_to_zoo(tmp_path / "a", "tiny-test", default=True, zoo=tmp_path / "zoo")
    index = json.loads((tmp_path / "zoo/index.json").read_text())
    entry = index["models"]["tiny-test"]
    assert index["default"] == "tiny-test" and entry["step"] == 10 and "cpu_hours" in entry
    assert entry["model_id"] == Codec.load(path).model_id.hex() != codec.model_id.hex()

    # Errors: another model, an existing run without --resume, no checkpoint to export.
    other = config.copy_and_resolve_references()
    other.model.latent_channels = 32
    with pytest.raises(ValueError, match="'latent_channels': 16.*'latent_channels': 32"):
        loop.train_and_evaluate(other, tmp_path / "a", resume=True)
    with pytest.raises(ValueError, match="'latent_channels': 16.*'latent_channels': 32"):
        export(tmp_path / "a", tmp_path / "x.npz", expected_model=other.model.to_dict())
    with pytest.raises(FileExistsError, match="--resume"):
        loop.train_and_evaluate(config, tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        export(tmp_path / "empty", tmp_path / "x.npz")


def test_non_finite_step_stops_naming_the_step():
    loop.check_finite(-1)
    with pytest.raises(loop.NonFiniteError, match="at step 1234"):
        loop.check_finite(1234)


def test_metrics_log_readers(tmp_path):
    from train.metrics_writer import copy_metrics, logged_cpu_hours

    (tmp_path / "run").mkdir()
    (tmp_path / "fork").mkdir()
    records = [{"step": 50, "split": "train", "cpu_hours": 0.5},
               {"step": 100, "split": "train", "cpu_hours": 1.0},
               {"step": 100, "split": "val", "psnr": 20.0},
               {"step": 150, "split": "train", "cpu_hours": 1.5}]
    (tmp_path / "run" / "metrics.jsonl").write_text(  # the last line cut short by a kill
        "".join(json.dumps(r) + "\n" for r in records) + '{"step": 160, "spl')
    assert logged_cpu_hours(tmp_path / "run", 120) == 1.0
    assert logged_cpu_hours(tmp_path / "run", 10) == 0.0
    assert logged_cpu_hours(tmp_path / "none", 120) == 0.0
    copy_metrics(tmp_path / "run", tmp_path / "fork", 120)
    assert (tmp_path / "fork" / "metrics.jsonl").read_text().count("\n") == 3
    copy_metrics(tmp_path / "run", tmp_path / "fork", 120, history=False)
    assert [json.loads(x) for x in (tmp_path / "fork" / "metrics.jsonl").read_text().splitlines()
            ] == [records[1]]
    assert logged_cpu_hours(tmp_path / "fork", 10**6) == 1.0


def test_moving_average_resume_validation_and_export(tmp_path):
    """A run that adds a moving average to a checkpoint without one starts it at the
    parameters, validates it as "val_ema" and exports it with ``ema``; a run without one
    drops it again."""
    rng = np.random.default_rng(1)
    _images(tmp_path / "train", 4, (72, 80, 3), rng)
    _images(tmp_path / "val", 1, (64, 64, 3), rng)
    plain = _config(tmp_path / "train", tmp_path / "val", 4)
    plain.val.every = 0
    first = loop.train_and_evaluate(plain, tmp_path / "run")
    assert first.ema_params is None
    with pytest.raises(ValueError, match="no moving average"):
        export(tmp_path / "run", tmp_path / "x.npz", ema=True)

    averaged = _config(tmp_path / "train", tmp_path / "val", 6)
    averaged.optim.ema_decay, averaged.val.every = 0.5, 6
    averaged.checkpoint_every, averaged.keep_checkpoints = 1, 3
    state = loop.train_and_evaluate(averaged, tmp_path / "run", resume=True)
    # Started at step 4's parameters, then moved toward those of steps 5 and 6.
    checkpointer = Checkpointer(tmp_path / "run", read_only=True)
    step5 = checkpointer.params(5)
    checkpointer.close()
    expected = ema_update(ema_update(first.params, step5, 4, 0.5), state.params, 5, 0.5)
    for e, a in zip(jax.tree_util.tree_leaves(expected),
                    jax.tree_util.tree_leaves(state.ema_params)):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-8)
    differs = jax.tree_util.tree_map(lambda a, b: bool(np.any(a != b)),
                                     state.ema_params, state.params)
    assert any(jax.tree_util.tree_leaves(differs))
    lines = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert {m["split"] for m in lines if m["step"] == 6} == {"train", "val", "val_ema"}

    codec = export(tmp_path / "run", tmp_path / "ema.npz", ema=True)
    for a, b in zip(jax.tree_util.tree_leaves(codec.params),
                    jax.tree_util.tree_leaves(state.ema_params)):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert codec.training["ema_decay"] == 0.5

    plain.num_steps = 7
    assert loop.train_and_evaluate(plain, tmp_path / "run", resume=True).ema_params is None

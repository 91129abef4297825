"""Lease mode of the training program (device-resident data, a wall-clock budget) on CPU
with the tiny model: crops over the whole extent of mixed-size images, a lease continuing
a CPU run's checkpoint (optimiser moments, schedules, data position), non-finite steps,
and a start from a weights file. The loop runs a toy step instead of the model's (whose
compilation alone takes a minute on 2 cores); test_training covers the model step's own
skipping of non-finite updates."""

import json
import os
import signal

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from PIL import Image

from configs import tiny_cpu
from jaxlic import ModelConfig
from jaxlic.coding import weights
from jaxlic.training import TrainState, make_optimizer
from train import loop, parallel
from train.checkpoint import Checkpointer, HeldDataState
from train.input_pipeline import load_pool, sample_crops
from train.metrics_writer import METRICS_FILE
from train.prepare_gpu import copy_checkpoint

SIZES = [(40, 90), (100, 48), (32, 32)]  # (height, width); the second is portrait
STEP = 450  # past tiny_cpu's first halving (400): the learning rate due is half the base


def _position_images(folder, sizes=SIZES):
    """Images whose pixels encode (row, column, 50 * (index + 1)); padding reads 0 in blue."""
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        pixels = np.stack([rows, cols, np.full_like(rows, 50 * (i + 1))], -1).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")


def test_crops_cover_the_whole_extent_of_mixed_size_images(tmp_path):
    _position_images(tmp_path / "train")
    data = ml_collections.ConfigDict({"train_dir": str(tmp_path / "train"), "crop_size": 32,
                                      "max_downscale": 1.0})
    pool = load_pool(data)
    assert pool.pixels.shape == (40 + 48 + 32, 100, 3)  # the portrait image turned landscape
    sample = jax.jit(sample_crops, static_argnums=(3, 4))
    crops = np.asarray(sample(pool, jax.random.PRNGKey(0), jnp.arange(3000), 32, False))
    blue = crops[..., 2]
    assert (blue == blue[:, :1, :1]).all() and (blue > 0).all()  # one image each, no padding
    for i, (h, w) in enumerate(SIZES):
        mine = crops[blue[:, 0, 0] == 50 * (i + 1)]
        assert 800 < len(mine) < 1200  # images drawn uniformly
        assert set(np.unique(mine[..., 0])) == set(range(h)), i  # every row of the file
        assert set(np.unique(mine[..., 1])) == set(range(w)), i  # every column
    flipped = np.asarray(sample(pool, jax.random.PRNGKey(0), jnp.arange(3000), 32, True))
    assert np.array_equal(np.sort(flipped.reshape(-1)), np.sort(crops.reshape(-1)))


def _config(train_dir, **changes):
    c = tiny_cpu.get_config()
    c.data.train_dir, c.data.crop_size, c.data.num_workers = str(train_dir), 64, 0
    c.batch_size, c.log_every, c.checkpoint_every, c.val.every = 2, 2, 0, 0
    c.progress_bar = False
    c.data.device_resident = True
    c.update(changes)
    return c


def _cpu_checkpoint(workdir, config, params, average=False):
    """A checkpoint as a CPU run at STEP leaves it: random Adam moments, all counts at STEP,
    a grain position, with ``average`` a moving average of the parameters; and its metrics
    line with the CPU hours so far."""
    tx = make_optimizer(lambda s: 1e-3)
    state = jax.jit(lambda p: TrainState.create(p, tx, ema=average))(params)
    rng = np.random.default_rng(0)
    opt_state = jax.tree_util.tree_map(
        lambda x: np.full(x.shape, STEP, x.dtype) if x.dtype == np.int32
        else np.abs(rng.normal(size=x.shape)).astype(x.dtype) * 1e-3, state.opt_state)
    state = jax.device_get(state.replace(step=np.int32(STEP), opt_state=opt_state))
    checkpointer = Checkpointer(workdir)
    checkpointer.save(state, np.asarray(jax.random.PRNGKey(5)), HeldDataState(b'{"next_index": 7}'),
                      config)
    checkpointer.close()
    (workdir / METRICS_FILE).write_text(
        '{"step": 400, "split": "train", "cpu_hours": 2.5}\n{"step": 400, "split": "val"}\n')
    return state


def test_a_lease_copy_leaves_the_moving_average_behind(tmp_path, tiny_params):
    config = _config(tmp_path / "train", num_steps=STEP + 10)
    _cpu_checkpoint(tmp_path / "cpu", config, tiny_params, average=True)
    assert copy_checkpoint(tmp_path / "cpu", tmp_path / "cooldown") == STEP
    assert copy_checkpoint(tmp_path / "cpu", tmp_path / "lease", average=False) == STEP
    states = {}
    for name in ("cpu", "cooldown", "lease"):
        checkpointer = Checkpointer(tmp_path / name, read_only=True)
        states[name] = checkpointer.restore_raw(STEP)
        checkpointer.close()
    assert states["cooldown"][0]["ema_params"] is not None
    assert states["lease"][0]["ema_params"] is None
    for key in ("params", "opt_state", "step"):
        for a, b in zip(_leaves(states["cpu"][0][key]), _leaves(states["lease"][0][key])):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(states["cpu"][1], states["lease"][1])  # the RNG key
    assert states["lease"][2].state == b'{"next_index": 7}'  # the data position
    assert "2.5" in (tmp_path / "lease" / METRICS_FILE).read_text()
    # It restores as a training run does, into a state without an average.
    tx = make_optimizer(lambda s: 1e-3)
    template = jax.eval_shape(lambda p: TrainState.create(p, tx), tiny_params)
    checkpointer = Checkpointer(tmp_path / "lease", read_only=True)
    restored, _ = checkpointer.restore(STEP, template, HeldDataState())
    checkpointer.close()
    assert restored.ema_params is None and int(restored.step) == STEP


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _toy_train_step(model, tx, loss, axis_name=None, ema_decay=0.0):
    """The library step's contract (an update skipped and recorded in ``bad_step`` when
    non-finite) on a toy loss, the mean of the images; non-finite at steps STEP + 1 and
    STEP + 2. (The lease keeps no moving average.)"""
    assert not ema_decay

    def step(state, images, rng):
        poisoned = (state.step == STEP + 1) | (state.step == STEP + 2)
        value = jnp.mean(images) + jnp.where(poisoned, jnp.nan, 0.0)
        grads = jax.tree_util.tree_map(lambda p: jnp.full_like(p, value), state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        finite = jnp.isfinite(value)
        keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
            lambda a, b: jnp.where(finite, a, b), new, old)
        bad_step = jnp.where((state.bad_step < 0) & ~finite, state.step, state.bad_step)
        return TrainState(state.step + 1, keep(optax.apply_updates(state.params, updates),
                                               state.params),
                          keep(opt_state, state.opt_state), bad_step), {
            "loss": value, "bpp": value, "psnr": value}

    return step


@pytest.fixture
def toy_step(monkeypatch):
    monkeypatch.setattr(parallel, "make_train_step", _toy_train_step)
    loop._program.cache_clear()
    yield
    loop._program.cache_clear()


def test_lease_continues_a_cpu_checkpoint_and_survives_a_non_finite_step(tmp_path, toy_step,
                                                                         tiny_params):
    _position_images(tmp_path / "train", [(64, 96), (80, 64)])
    config = _config(tmp_path / "train", num_steps=STEP + 100)
    saved = _cpu_checkpoint(tmp_path / "cpu", config, tiny_params)
    assert copy_checkpoint(tmp_path / "cpu", tmp_path / "lease") == STEP
    assert "2.5" in (tmp_path / "lease" / METRICS_FILE).read_text()

    # Restored: moments and counts as saved; the update uses the schedule's rate at STEP.
    checkpointer = Checkpointer(tmp_path / "lease")
    run = loop._Run(config, tmp_path / "lease", checkpointer)
    run.restore(STEP)
    checkpointer.close()
    assert int(run.state.step) == STEP and run.cpu_hours_before == 2.5
    for a, b in zip(_leaves(run.state.opt_state), _leaves(saved.opt_state)):
        np.testing.assert_array_equal(a, b)
    assert run.data.get_state() == b'{"next_index": 7}'
    lr = float(run.program.schedule(STEP))
    assert lr == pytest.approx(config.optim.lr / 2)
    grads = jax.tree_util.tree_map(np.ones_like, run.state.params)
    args = grads, run.state.opt_state, run.state.params
    used, _ = jax.jit(run.program.tx.update)(*args)
    due, _ = jax.jit(make_optimizer(lambda s: lr).update)(*args)
    for a, b in zip(_leaves(used), _leaves(due)):
        np.testing.assert_allclose(a, b, rtol=1e-6)

    # Step STEP + 1 is non-finite: skipped, counted, and (none tolerated) the run stops
    # with a checkpoint.
    with pytest.raises(loop.NonFiniteError, match=f"at step {STEP + 1}"):
        loop.train_and_evaluate(config, tmp_path / "lease", resume=True)
    checkpointer = Checkpointer(tmp_path / "lease", read_only=True)
    assert checkpointer.latest_step() == STEP + 2
    assert all(np.isfinite(x).all() for x in _leaves(checkpointer.params(STEP + 2)))
    checkpointer.close()
    log = [json.loads(x) for x in (tmp_path / "lease" / METRICS_FILE).read_text().splitlines()]
    assert log[-1]["step"] == STEP + 2 and log[-1]["skipped_steps"] == 1
    assert np.isfinite(log[-1]["loss"])  # the mean of the steps that were kept

    # Tolerated, step STEP + 2 is skipped too; the wall-clock budget stops the run after
    # its first step, with a checkpoint.
    tolerant = _config(tmp_path / "train", num_steps=STEP + 100, max_skipped_steps=1,
                       time_budget=1e-9)
    state = loop.train_and_evaluate(tolerant, tmp_path / "lease", resume=True)
    assert int(state.step) == STEP + 3 and int(state.bad_step) == STEP + 1
    log = [json.loads(x) for x in (tmp_path / "lease" / METRICS_FILE).read_text().splitlines()]
    assert log[-1]["step"] == STEP + 3 and log[-1]["skipped_steps"] == 1

    # A CPU (grain) run continues the lease's checkpoint at the grain position it left.
    cpu = _config(tmp_path / "train", num_steps=STEP + 100)
    cpu.data.device_resident = False
    checkpointer = Checkpointer(tmp_path / "lease")
    run = loop._Run(cpu, tmp_path / "lease", checkpointer)
    run.restore(STEP + 3)
    checkpointer.close()
    assert run.data.get_state() == {"next_index": 7}
    run.data.close()
    for a, b in zip(_leaves(run.state), _leaves(state)):
        np.testing.assert_array_equal(a, b)

    # SIGTERM (the handler train.main installs) ends the CPU run after its step, with a checkpoint.
    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.stop_on_sigterm()
        os.kill(os.getpid(), signal.SIGTERM)
        assert loop.STOP_REQUESTED.is_set()
        state = loop.train_and_evaluate(cpu, tmp_path / "lease", resume=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        loop.STOP_REQUESTED.clear()
    assert int(state.step) == STEP + 4
    checkpointer = Checkpointer(tmp_path / "lease", read_only=True)
    assert checkpointer.latest_step() == STEP + 4
    checkpointer.close()


def test_new_run_starts_from_a_weights_file_at_its_step(tmp_path, tiny_params):
    _position_images(tmp_path / "train", [(64, 64)])
    params = tiny_params
    weights.save(tmp_path / "w.npz", ModelConfig.tiny(), params, {}, "float16",
                 extra={"training": {"step": STEP, "cpu_hours": 1.5}})
    run = loop._Run(_config(tmp_path / "train"), tmp_path, Checkpointer(tmp_path))
    run.start_from_weights(tmp_path / "w.npz")
    run.checkpointer.close()
    assert int(run.state.step) == STEP and run.cpu_hours_before == 1.5
    counts = [s for s in jax.tree_util.tree_leaves(
        run.state.opt_state, is_leaf=lambda s: isinstance(s, (optax.ScaleByScheduleState,
                                                               optax.ScaleByAdamState)))
        if isinstance(s, (optax.ScaleByScheduleState, optax.ScaleByAdamState))]
    assert sorted(int(s.count) for s in counts) == [0, 0, STEP, STEP]  # Adam fresh, lr at STEP
    half = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float16).astype(np.float32), params)
    for a, b in zip(_leaves(run.state.params), _leaves(half)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="configuration asks for"):
        other = _config(tmp_path / "train")
        other.model.latent_channels = 32
        loop._Run(other, tmp_path / "x", Checkpointer(tmp_path / "x")).start_from_weights(
            tmp_path / "w.npz")

"""``train_and_evaluate(config, workdir)``: the training loop.

Per step: the next batch -> ``pmap``-ed step on all local devices (gradients and metrics
averaged over every device of every host). The batch comes from grain workers on the host,
or, with ``data.device_resident``, is sampled inside the step from images held on the
device. Every ``log_every`` steps: metrics to TensorBoard and ``metrics.jsonl``, with the
number of skipped non-finite steps. Every ``val.every`` steps: estimated rate and
distortion on ``val.dir``. Every ``checkpoint_every`` steps and when the run stops: an
asynchronous orbax checkpoint of the full state.

The run stops after ``num_steps``, after ``time_budget`` seconds of training (counted
from the end of the first step, which compiles), after more than ``max_skipped_steps``
non-finite steps, or when ``STOP_REQUESTED`` is set (``train.main`` sets it on SIGTERM:
after the current step on one host, within ``STOP_CHECK_EVERY`` steps, together, on
several); it always stops with a checkpoint. (The wall-clock budget is still each
host's own: the lease mode it serves runs on one host.) A new run
(no checkpoint in the workdir) starts from ``init_weights`` if given: its parameters, its
step count (so the schedules continue) and a fresh optimiser.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import signal
import sys
import threading
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm
from absl import logging
from jax.experimental import multihost_utils

from jaxlic import AsymmetricModel, ModelConfig, init_params
from jaxlic.models.asymmetric import param_shapes
from jaxlic.coding import weights
from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
from train import evaluate, input_pipeline, parallel
from train.checkpoint import Checkpointer, HeldDataState
from train.metrics_writer import MetricWriter, logged_cpu_hours

STOP_REQUESTED = threading.Event()  # set to end the run with a checkpoint (SIGTERM)
STOP_CHECK_EVERY = 10  # steps between the hosts' agreements on a stop request


class NonFiniteError(FloatingPointError):
    """Training produced a non-finite loss or gradient."""


def check_finite(bad_step: int) -> None:
    """Raise ``NonFiniteError`` naming the step if ``bad_step`` (from the state) is set."""
    if bad_step >= 0:
        raise NonFiniteError(
            f"loss or gradients were not finite at step {bad_step}; such steps were skipped, "
            "and training stopped with a checkpoint after more than "
            "--config.max_skipped_steps of them. Resume with a lower learning rate or "
            "gradient clipping (--config.optim.clip_norm).")


def with_schedule_step(opt_state: Any, step: int) -> Any:
    """``opt_state`` with the step count of its learning-rate schedules set to ``step``
    (Adam's own counts, which correct the moments' bias, are left alone)."""
    return jax.tree_util.tree_map(
        lambda s: s._replace(count=np.asarray(step, np.int32))
        if isinstance(s, optax.ScaleByScheduleState) else s,
        opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByScheduleState))


def mean_metrics(pending: list[dict[str, jax.Array]]) -> tuple[dict[str, float], int]:
    """Per-step metrics (each replicated ``[D]``) averaged over the steps whose update was
    not skipped (over all if none was kept), and the number of skipped steps; one host sync."""
    steps = jax.device_get(pending)
    kept = [m for m in steps if not m["skipped"][0]]
    summary = {k: float(np.mean([m[k][0] for m in kept or steps])) for k in steps[0]}
    del summary["skipped"]
    return summary, len(steps) - len(kept)


def _should(done: int, every: int) -> bool:
    return bool(every) and done % every == 0


def stop_on_sigterm() -> None:
    """Let ``kill PID`` end the run (it sets ``STOP_REQUESTED``): the loop finishes its
    step, writes a checkpoint and shuts the data-loading workers down. A second SIGTERM
    exits at once, like Ctrl-C.

    (Raising from the handler on the first signal is not reliable: the exception lands
    wherever the interpreter happens to be, and inside a garbage-collection callback of
    XLA it is printed and ignored, so the run went on.)"""
    def handler(signum: int, frame: Any) -> None:
        if STOP_REQUESTED.is_set():
            sys.exit(128 + signum)
        logging.warning("SIGTERM: stopping after this step, with a checkpoint")
        STOP_REQUESTED.set()

    signal.signal(signal.SIGTERM, handler)


def _stop_requested(done: int) -> bool:
    """Whether ``STOP_REQUESTED`` ends the run after step ``done``: at once on one host;
    with several, every ``STOP_CHECK_EVERY`` steps and then on every host together (a
    signal reaches the hosts at different steps, and all must leave the collectives at
    the same one)."""
    if jax.process_count() == 1:
        return STOP_REQUESTED.is_set()
    if not _should(done, STOP_CHECK_EVERY):
        return False
    flags = multihost_utils.process_allgather(np.int32(STOP_REQUESTED.is_set()))
    return bool(np.any(flags))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       resume: bool = False) -> TrainState:
    """Train ``config`` in ``workdir`` up to ``config.num_steps``; return the final state.

    With ``resume`` the run continues exactly from the last checkpoint in ``workdir``
    (or starts if there is none); without it, a workdir with checkpoints is an error, and
    so is a checkpoint or ``init_weights`` file of another model configuration. The
    returned state is a host copy (numpy leaves).
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpointer = Checkpointer(workdir, config.keep_checkpoints)
    try:
        latest = checkpointer.latest_step()
        if latest is not None and not resume:
            raise FileExistsError(f"{workdir} already holds checkpoints (latest step {latest}); "
                                  "pass --resume to continue that run or choose another "
                                  "--workdir")
        if latest is not None:
            checkpointer.check_model(latest, config.model.to_dict())
        if jax.process_index() == 0:
            (workdir / "config.json").write_text(config.to_json(indent=2))
        run = _Run(config, workdir, checkpointer)
        if latest is not None:
            run.restore(latest)
        elif config.init_weights:
            run.start_from_weights(config.init_weights)
        else:
            run.start_fresh()
        return run.train()
    finally:
        checkpointer.close()


@dataclasses.dataclass(frozen=True)
class _Program:
    """The model, its optimiser and the jitted functions of one configuration."""

    model: AsymmetricModel
    schedule: Callable[[int], jax.Array]
    tx: optax.GradientTransformation
    create_state: Callable[[Any], TrainState]  # params -> fresh TrainState
    step: Callable  # see parallel.make_parallel_step
    estimate: evaluate.Estimator


@functools.lru_cache(maxsize=4)
def _program(model_config: ModelConfig, compute_dtype: str, optim: tuple[tuple[str, Any], ...],
             loss: LossConfig, pool_sampling: tuple[int, int, bool] | None = None) -> _Program:
    """Built once per configuration and process, so that several runs in one process
    (resumption, sweeps, tests) trace and compile each function once.
    ``pool_sampling`` is ``(device_batch, crop, flip)`` for device-resident data."""
    o = dict(optim)
    model = AsymmetricModel(model_config, dtype=jnp.dtype(compute_dtype))
    schedule = halving_schedule(o["lr"], o["first_halving"], o["halving_every"], o["warmup"])
    tx = make_optimizer(schedule, o["aux_multiplier"], o["clip_norm"])
    ema_decay = o.get("ema_decay", 0.0)
    step = (parallel.make_pool_step(model, tx, loss, *pool_sampling, ema_decay=ema_decay)
            if pool_sampling else parallel.make_parallel_step(model, tx, loss, ema_decay))
    # One program for the optimiser's zero states instead of one per parameter shape.
    create_state = jax.jit(lambda p: TrainState.create(p, tx, ema=bool(ema_decay)))
    return _Program(model, schedule, tx, create_state, step,
                    evaluate.make_estimator(model, loss))


def loss_config(config: ml_collections.ConfigDict) -> LossConfig:
    """The step's objective from a training configuration."""
    # .get: configurations saved before the field existed (width_comparison reads them)
    return LossConfig(config.lmbda, config.distortion, config.pq_steps,
                      tuple(config.level_lmbdas), config.get("rated_channels"),
                      tuple(config.get("level_weights", ())))


class _Run:
    """The pieces of one training run, built from the config."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path,
                 checkpointer: Checkpointer):
        self.config, self.checkpointer, self.workdir = config, checkpointer, workdir
        self.is_main = jax.process_index() == 0
        self.cpu_hours_before = 0.0  # of earlier processes of this run (on resume)
        self.skipped = 0  # non-finite steps of this process
        self.model_config = ModelConfig.from_dict(config.model.to_dict())
        host_batch, num_devices = (parallel.host_batch_size(config.batch_size),
                                   jax.local_device_count())
        resident = config.data.device_resident
        self.program = _program(self.model_config, config.compute_dtype,
                                tuple(sorted(config.optim.items())), loss_config(config),
                                (host_batch // num_devices, config.data.crop_size,
                                 config.data.random_flip) if resident else None)
        self.init_rng, self.rng = jax.random.split(jax.random.PRNGKey(config.seed))
        self.state: TrainState | None = None  # set by one of the three starts below
        if resident:
            self.data = HeldDataState()
            pool = parallel.replicate(input_pipeline.load_pool(config.data))
            self.next_input = lambda: pool
        else:
            self.data = iter(input_pipeline.train_dataset(
                config.data, host_batch, config.seed, jax.process_index(),
                jax.process_count()))
            self.next_input = lambda: parallel.split_batch(next(self.data), num_devices)
        self.writer = MetricWriter(workdir, enabled=self.is_main)
        self.validation = (_Validation(config.val, self.program.estimate,
                                       self.model_config.rate_levels)
                           if self.is_main and config.val.every else None)

    def start_fresh(self) -> None:
        """Start from initialised parameters at step 0."""
        self.state = jax.device_get(
            self.program.create_state(init_params(self.model_config, self.init_rng)))

    def restore(self, step: int) -> None:
        """Continue from checkpoint ``step``: parameters, optimiser state, step, RNG, data."""
        template = jax.eval_shape(self.program.create_state, param_shapes(self.model_config))
        self.state, self.rng = self.checkpointer.restore(step, template, self.data)
        logging.info("resumed from step %d of %s", step, self.checkpointer.directory)
        self.cpu_hours_before = logged_cpu_hours(self.workdir, step)

    def start_from_weights(self, path: str | os.PathLike) -> None:
        """Start from a weights file: its float32 parameters and step, a fresh optimiser
        whose learning-rate schedules continue from that step."""
        model, params, _, meta = weights.load(path)
        if model != self.model_config:
            raise ValueError(f"weights file {path} holds a model with configuration "
                             f"{model.to_dict()}, but the configuration asks for "
                             f"{self.model_config.to_dict()}")
        training = meta.get("training", {})
        step = int(training.get("step", 0))
        state = jax.device_get(self.program.create_state(params))
        self.state = state.replace(step=np.asarray(step, np.int32),
                                   opt_state=with_schedule_step(state.opt_state, step))
        self.cpu_hours_before = float(training.get("cpu_hours", 0.0))
        logging.info("starting from %s at step %d with a fresh optimiser", path, step)

    def train(self) -> TrainState:
        """Run until a stop condition (see the module), checkpoint, return the host state.

        Raises ``NonFiniteError`` (after the checkpoint) if more than
        ``max_skipped_steps`` steps were non-finite."""
        config = self.config
        step_fn = self.program.step
        start = int(self.state.step)
        p_state = parallel.replicate(self.state)
        bar = tqdm.tqdm(total=config.num_steps, initial=start, unit="step", dynamic_ncols=True,
                        disable=not (self.is_main and config.progress_bar))
        pending, tic, deadline, previous = [], time.perf_counter(), None, None
        try:
            for step in range(start, config.num_steps):
                p_state, metrics = step_fn(p_state, self.next_input(), self.rng)
                pending.append(metrics)
                bar.update()
                done = step + 1
                if config.time_budget:
                    # The clock starts once the first step has compiled and run; then at
                    # most one step runs ahead of it, so that it counts executed steps.
                    jax.block_until_ready(previous if deadline else metrics)
                    deadline = deadline or time.perf_counter() + config.time_budget
                    previous = metrics
                stop = (done == config.num_steps or _stop_requested(done)
                        or (deadline is not None and time.perf_counter() >= deadline))
                if stop or _should(done, config.log_every):
                    self._log(done, pending, time.perf_counter() - tic, bar)
                    pending = []
                    stop = stop or self.skipped > config.max_skipped_steps
                if self.validation and (stop or _should(done, config.val.every)):
                    self.writer.write(done, "val", self.validation(p_state.params))
                    if p_state.ema_params is not None:
                        self.writer.write(done, "val_ema", self.validation(p_state.ema_params))
                if stop or _should(done, config.checkpoint_every):
                    self.checkpointer.save(parallel.unreplicate(p_state), self.rng, self.data,
                                           config)
                if stop:
                    break
                if not pending:
                    tic = time.perf_counter()
        finally:
            bar.close()
            self.writer.close()
            if not isinstance(self.data, HeldDataState):
                self.data.close()
        state = parallel.unreplicate(p_state)
        if self.skipped > config.max_skipped_steps:
            check_finite(int(state.bad_step))
        return state

    def _log(self, step: int, pending: list[dict[str, jax.Array]], seconds: float,
             bar: tqdm.tqdm) -> None:
        """Write the mean training metrics, throughput and skipped non-finite steps."""
        summary, skipped = mean_metrics(pending)
        if skipped:
            logging.warning("%d non-finite steps up to step %d were skipped", skipped, step)
        self.skipped += skipped
        summary["skipped_steps"] = skipped
        summary["lr"] = float(self.program.schedule(step - 1))
        summary["steps_per_sec"] = len(pending) / seconds
        summary["images_per_sec"] = summary["steps_per_sec"] * self.config.batch_size
        summary["cpu_hours"] = self.cpu_hours_before + time.process_time() / 3600.0
        self.writer.write(step, "train", summary)
        bar.set_postfix(loss=f"{summary['loss']:.4f}", bpp=f"{summary['bpp']:.3f}",
                        psnr=f"{summary['psnr']:.2f}")


class _Validation:
    """Estimated rate and distortion of the current parameters on ``val.dir``."""

    def __init__(self, val: ml_collections.ConfigDict, estimate: evaluate.Estimator,
                 rate_levels: int):
        self.images = input_pipeline.aligned_images(val.dir, val.max_images)
        self.estimate = estimate
        # A variable-rate model is estimated at val.levels (default: every level).
        self.levels = tuple(val.levels or range(rate_levels)) if rate_levels else ()

    def __call__(self, replicated_params: Any) -> dict[str, float]:
        params = jax.device_put(parallel.unreplicate(replicated_params))
        return evaluate.validate(self.estimate, params, self.images, self.levels)

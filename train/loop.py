"""``train_and_evaluate(config, workdir)``: the training loop.

Per step: the host's next batch -> ``pmap``-ed step on all local devices (gradients and
metrics averaged over every device of every host). Every ``log_every`` steps: metrics to
TensorBoard and ``metrics.jsonl``, and a check that no step was non-finite. Every
``val.every`` steps: estimated rate and distortion on ``val.dir``. Every
``checkpoint_every`` steps and at the end: an asynchronous orbax checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm
from absl import logging

from jaxlic import AsymmetricModel, ModelConfig, init_params
from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
from train import evaluate, input_pipeline, parallel
from train.checkpoint import Checkpointer
from train.metrics_writer import METRICS_FILE, MetricWriter


class NonFiniteError(FloatingPointError):
    """Training produced a non-finite loss or gradient."""


def check_finite(bad_step: int) -> None:
    """Raise ``NonFiniteError`` naming the step if ``bad_step`` (from the state) is set."""
    if bad_step >= 0:
        raise NonFiniteError(
            f"loss or gradients were not finite at step {bad_step}; that step was skipped and "
            "training stopped. Resume from the last checkpoint with a lower learning rate or "
            "gradient clipping (--config.optim.clip_norm).")


def mean_metrics(pending: list[dict[str, jax.Array]]) -> dict[str, float]:
    """Average per-step metrics (each replicated ``[D]``) over the steps; one host sync."""
    steps = jax.device_get(pending)
    return {k: float(np.mean([m[k][0] for m in steps])) for k in steps[0]}


def _should(done: int, every: int, last: int) -> bool:
    return bool(every) and (done % every == 0 or done == last)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       resume: bool = False) -> TrainState:
    """Train ``config`` in ``workdir`` up to ``config.num_steps``; return the final state.

    With ``resume`` the run continues exactly from the last checkpoint in ``workdir``
    (or starts if there is none); without it, a workdir with checkpoints is an error, and
    so is a checkpoint of another model configuration. The returned state is a host
    copy (numpy leaves).
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
        return _Run(config, workdir, checkpointer).train(latest)
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
             loss: LossConfig) -> _Program:
    """Built once per configuration and process, so that several runs in one process
    (resumption, sweeps, tests) trace and compile each function once."""
    o = dict(optim)
    model = AsymmetricModel(model_config, dtype=jnp.dtype(compute_dtype))
    schedule = halving_schedule(o["lr"], o["first_halving"], o["halving_every"], o["warmup"])
    tx = make_optimizer(schedule, o["aux_multiplier"], o["clip_norm"])
    # One program for the optimiser's zero states instead of one per parameter shape.
    return _Program(model, schedule, tx, jax.jit(lambda p: TrainState.create(p, tx)),
                    parallel.make_parallel_step(model, tx, loss),
                    evaluate.make_estimator(model, loss))


def loss_config(config: ml_collections.ConfigDict) -> LossConfig:
    """The step's objective from a training configuration."""
    return LossConfig(config.lmbda, config.distortion, config.pq_steps,
                      tuple(config.level_lmbdas))


class _Run:
    """The pieces of one training run, built from the config."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path,
                 checkpointer: Checkpointer):
        self.config, self.checkpointer, self.workdir = config, checkpointer, workdir
        self.is_main = jax.process_index() == 0
        self.cpu_hours_before = 0.0  # of earlier processes of this run (on resume)
        model_config = ModelConfig.from_dict(config.model.to_dict())
        self.program = _program(model_config, config.compute_dtype,
                                tuple(sorted(config.optim.items())),
                                loss_config(config))
        init_rng, self.rng = jax.random.split(jax.random.PRNGKey(config.seed))
        self.state = jax.device_get(
            self.program.create_state(init_params(model_config, init_rng)))
        self.data = iter(input_pipeline.train_dataset(
            config.data, parallel.host_batch_size(config.batch_size), config.seed,
            jax.process_index(), jax.process_count()))
        self.writer = MetricWriter(workdir, enabled=self.is_main)
        self.validation = (_Validation(config.val, self.program.estimate,
                                       model_config.rate_levels)
                           if self.is_main and config.val.every else None)

    def train(self, resume_step: int | None) -> TrainState:
        """Restore ``resume_step`` if given, then run the steps left; return the host state."""
        config = self.config
        if resume_step is not None:
            self.state, self.rng = self.checkpointer.restore(resume_step, self.state, self.data)
            logging.info("resumed from step %d of %s", resume_step, self.checkpointer.directory)
            self.cpu_hours_before = logged_cpu_hours(self.workdir / METRICS_FILE, resume_step)
        step_fn = self.program.step
        start, num_devices = int(self.state.step), jax.local_device_count()
        p_state = parallel.replicate(self.state)
        bar = tqdm.tqdm(total=config.num_steps, initial=start, unit="step", dynamic_ncols=True,
                        disable=not (self.is_main and config.progress_bar))
        pending, tic = [], time.perf_counter()
        try:
            for step in range(start, config.num_steps):
                images = parallel.split_batch(next(self.data), num_devices)
                p_state, metrics = step_fn(p_state, images, self.rng)
                pending.append(metrics)
                bar.update()
                done = step + 1
                if _should(done, config.log_every, config.num_steps):
                    self._log(done, pending, int(p_state.bad_step[0]), time.perf_counter() - tic,
                              bar)
                    pending = []
                if self.validation and _should(done, config.val.every, config.num_steps):
                    self.writer.write(done, "val", self.validation(p_state.params))
                if _should(done, config.checkpoint_every, config.num_steps):
                    host_state = parallel.unreplicate(p_state)
                    check_finite(int(host_state.bad_step))
                    self.checkpointer.save(host_state, self.rng, self.data, config)
                if not pending:
                    tic = time.perf_counter()
        finally:
            bar.close()
            self.writer.close()
            self.data.close()
        return parallel.unreplicate(p_state)

    def _log(self, step: int, pending: list[dict[str, jax.Array]], bad_step: int,
             seconds: float, bar: tqdm.tqdm) -> None:
        """Stop on a non-finite step; write the mean training metrics and throughput."""
        check_finite(bad_step)
        summary = mean_metrics(pending)
        summary["lr"] = float(self.program.schedule(step - 1))
        summary["steps_per_sec"] = len(pending) / seconds
        summary["images_per_sec"] = summary["steps_per_sec"] * self.config.batch_size
        summary["cpu_hours"] = self.cpu_hours_before + time.process_time() / 3600.0
        self.writer.write(step, "train", summary)
        bar.set_postfix(loss=f"{summary['loss']:.4f}", bpp=f"{summary['bpp']:.3f}",
                        psnr=f"{summary['psnr']:.2f}")


def logged_cpu_hours(metrics_file: pathlib.Path, step: int) -> float:
    """The run's CPU hours logged at the last training line up to ``step`` (0 if none).

    ``cpu_hours`` counts this host's training process (all its threads, from
    ``time.process_time``) summed over the run's restarts; data-loading worker
    processes are not included."""
    hours = 0.0
    if metrics_file.exists():
        for line in metrics_file.read_text().splitlines():
            record = json.loads(line)
            if record.get("split") == "train" and record["step"] <= step:
                hours = record.get("cpu_hours", hours)
    return hours


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

"""``train_and_evaluate(config, workdir)``: the training loop.

Per step: the host's next batch -> ``pmap``-ed step on all local devices (gradients and
metrics averaged over every device of every host). Every ``log_every`` steps: metrics to
TensorBoard and ``metrics.jsonl``, and a check that no step was non-finite. Every
``val.every`` steps: estimated rate and distortion on ``val.dir``. Every
``checkpoint_every`` steps and at the end: an asynchronous orbax checkpoint.
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm
from absl import logging

from jaxlic import AsymmetricModel, ModelConfig, init_params
from jaxlic.training import LossConfig, TrainState, halving_schedule, make_optimizer
from train import evaluate, input_pipeline, parallel
from train.checkpoint import Checkpointer
from train.metrics_writer import MetricWriter


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
    (or starts if there is none); without it, a workdir with checkpoints is an error.
    The returned state is a host copy (numpy leaves).
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    is_main = jax.process_index() == 0
    model_config = ModelConfig.from_dict(config.model.to_dict())
    model = AsymmetricModel(model_config, dtype=jnp.dtype(config.compute_dtype))
    schedule = halving_schedule(config.optim.lr, config.optim.first_halving,
                                config.optim.halving_every)
    tx = make_optimizer(schedule, config.optim.aux_multiplier, config.optim.clip_norm)
    loss = LossConfig(config.lmbda, config.distortion, config.pq_steps)

    init_rng, rng = jax.random.split(jax.random.PRNGKey(config.seed))
    state = TrainState.create(init_params(model_config, init_rng), tx)
    data_iterator = iter(input_pipeline.train_dataset(
        config.data, parallel.host_batch_size(config.batch_size), config.seed,
        jax.process_index(), jax.process_count()))
    checkpointer = Checkpointer(workdir, config.keep_checkpoints)
    latest = checkpointer.latest_step()
    if latest is not None and not resume:
        raise FileExistsError(f"{workdir} already holds checkpoints (latest step {latest}); "
                              "pass --resume to continue that run or choose another --workdir")
    if latest is not None:
        state, rng = checkpointer.restore(latest, jax.device_get(state), data_iterator,
                                          config.model.to_dict())
        logging.info("resumed from step %d of %s", latest, checkpointer.directory)
    if is_main:
        (workdir / "config.json").write_text(config.to_json(indent=2))

    validation = _Validation(config, model) if is_main and config.val.every else None
    writer = MetricWriter(workdir, enabled=is_main)
    step_fn = parallel.make_parallel_step(model, tx, loss)
    start, num_devices = int(state.step), jax.local_device_count()
    p_state = parallel.replicate(state)
    bar = tqdm.tqdm(total=config.num_steps, initial=start, unit="step", dynamic_ncols=True,
                    disable=not (is_main and config.progress_bar))
    pending, tic = [], time.perf_counter()
    try:
        for step in range(start, config.num_steps):
            images = parallel.split_batch(next(data_iterator), num_devices)
            p_state, metrics = step_fn(p_state, images, rng)
            pending.append(metrics)
            bar.update()
            done = step + 1
            if _should(done, config.log_every, config.num_steps):
                summary = mean_metrics(pending)
                check_finite(int(p_state.bad_step[0]))
                elapsed = time.perf_counter() - tic
                summary["lr"] = float(schedule(step))
                summary["steps_per_sec"] = len(pending) / elapsed
                summary["images_per_sec"] = summary["steps_per_sec"] * config.batch_size
                writer.write(done, "train", summary)
                bar.set_postfix(loss=f"{summary['loss']:.4f}", bpp=f"{summary['bpp']:.3f}",
                                psnr=f"{summary['psnr']:.2f}")
                pending, tic = [], time.perf_counter()
            if validation and _should(done, config.val.every, config.num_steps):
                writer.write(done, "val", validation(p_state.params))
            if _should(done, config.checkpoint_every, config.num_steps):
                host_state = parallel.unreplicate(p_state)
                check_finite(int(host_state.bad_step))
                checkpointer.save(host_state, rng, data_iterator, config)
    finally:
        bar.close()
        writer.close()
        checkpointer.close()
        data_iterator.close()
    return parallel.unreplicate(p_state)


class _Validation:
    """Estimated rate and distortion of the current parameters on ``config.val.dir``."""

    def __init__(self, config: ml_collections.ConfigDict, model: AsymmetricModel):
        self.images = input_pipeline.aligned_images(config.val.dir, config.val.max_images)
        self.estimate = evaluate.make_estimator(model, config.lmbda, config.distortion)

    def __call__(self, replicated_params: Any) -> dict[str, float]:
        params = jax.tree_util.tree_map(lambda x: x[0], replicated_params)
        return evaluate.validate(self.estimate, params, self.images)

"""Widen the latent of a training run into a new run (``jaxlic.training.widen``).

::

    python -m train.widen --from_workdir=RUN --workdir=NEW --latent_channels=128

writes one checkpoint into NEW at the step of RUN's last checkpoint (or ``--step``): the
widened parameters, Adam's moments at their new places (zeros for the new entries), the
same RNG key and data-iterator position, and RUN's configuration with
``model.latent_channels`` and ``model.transform_channels`` set, so the schedules, the
data order and the CPU-hour count (RUN's metrics up to the step are copied) go on as if
the run had always been wide. Continue it like any run::

    train/cpu_run.sh NEW --config.model.latent_channels=128 \\
        --config.model.transform_channels=64 [RUN's other flags]
"""

from __future__ import annotations

import argparse
import os
import pathlib
from typing import Any

import ml_collections

from jaxlic import ModelConfig
from jaxlic.training import TrainState
from jaxlic.training.widen import widen_moments, widen_params, widened_config
from train.checkpoint import Checkpointer
from train.metrics_writer import copy_metrics


def _widen_optimizer(state: Any, param_keys: set[str], old: ModelConfig,
                     new: ModelConfig) -> Any:
    """Every parameter-shaped subtree of a saved optimiser state widened by
    ``widen_moments``; counts and other leaves as they are."""
    if not isinstance(state, dict):
        return state
    if state and set(state) == param_keys:
        return widen_moments(state, old, new)
    return {k: _widen_optimizer(v, param_keys, old, new) for k, v in state.items()}


def widen_run(source: str | os.PathLike, target: str | os.PathLike, latent_channels: int,
              step: int | None = None, seed: int = 0, new_gain: float = 0.1) -> int:
    """Write the widened checkpoint of ``source`` into ``target``; return its step."""
    target = pathlib.Path(target)
    reader = Checkpointer(source, read_only=True)
    try:
        step = reader.saved_step(step)
        config = reader.saved_config(step)
        saved, rng, data = reader.restore_raw(step)
    finally:
        reader.close()
    old = ModelConfig.from_dict(config.model.to_dict())
    new = widened_config(old, latent_channels)
    params = widen_params(saved["params"], old, new, seed=seed, new_gain=new_gain)
    state = TrainState(step=saved["step"], params=params, bad_step=saved["bad_step"],
                       opt_state=_widen_optimizer(saved["opt_state"], set(params), old, new))
    config = ml_collections.ConfigDict(config.to_dict())
    config.model.latent_channels = new.latent_channels
    config.model.transform_channels = new.transform_width
    writer = Checkpointer(target)
    try:
        if writer.latest_step() is not None:
            raise FileExistsError(f"{target} already holds checkpoints")
        writer.save(state, rng, data, config)
    finally:
        writer.close()
    copy_metrics(source, target, step)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from_workdir", required=True,
                        help="training folder whose checkpoint is widened")
    parser.add_argument("--workdir", required=True,
                        help="new training folder (must hold no checkpoints)")
    parser.add_argument("--latent_channels", type=int, required=True,
                        help="M of the widened model (more than the old M)")
    parser.add_argument("--step", type=int, help="checkpoint step to widen (default: the last)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new weights' draws")
    parser.add_argument("--new_gain", type=float, default=0.1,
                        help="gains of the new channels relative to the old channels' mean: "
                        "small, so that they start at almost no rate")
    args = parser.parse_args()
    step = widen_run(args.from_workdir, args.workdir, args.latent_channels, args.step,
                     args.seed, args.new_gain)
    print(f"widened step {step} of {args.from_workdir} to M = {args.latent_channels} "
          f"in {args.workdir}")


if __name__ == "__main__":
    main()

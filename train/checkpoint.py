"""Orbax checkpoints of a training run: state, RNG, data-iterator position and config.

Layout: ``<workdir>/checkpoints/<step>/{state,data,config}``. ``state`` holds the
``TrainState`` (as a nested dict of numpy arrays) and the step RNG key; ``data`` holds
one grain iterator state per host; ``config`` is the run's ConfigDict as JSON. Saves are
asynchronous and atomic (orbax writes to a temporary folder and renames it when done);
only the last ``keep`` steps are kept.

A run on device-resident data has no grain iterator: it saves the iterator position it
was restored with unchanged (``HeldDataState``; ``null`` when it started without one),
so that a grain run continuing from its checkpoint reads on where it stopped.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import flax.serialization
import grain
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from jaxlic import ModelConfig
from jaxlic.training import TrainState


class HeldDataState:
    """A grain iterator position held as raw JSON (``b"null"``: none) and saved unchanged.

    Stands in for the grain iterator where a run has none; grain's checkpoint handler
    saves and restores it through ``get_state``/``set_state`` (bytes) and
    ``start_prefetch``."""

    def __init__(self, state: bytes = b"null"):
        self.state = state

    def get_state(self) -> bytes:
        return self.state

    def set_state(self, state: bytes) -> None:
        self.state = state

    def start_prefetch(self) -> None:
        """Nothing to prefetch."""


DataState = grain.DatasetIterator | HeldDataState


def checkpoint_dir(workdir: str | os.PathLike) -> pathlib.Path:
    return pathlib.Path(workdir).resolve() / "checkpoints"


def ema_as_in(saved: dict, template: TrainState) -> dict:
    """The saved state dict with a moving average where ``template`` has one and none where
    it has none: a checkpoint without one (a run without it, or saved before
    ``TrainState`` had the field) starts it at its parameters; one the template has no
    place for is dropped (logged either way)."""
    ema = saved.get("ema_params")
    if template.ema_params is None:
        if ema is not None:
            logging.warning("the checkpoint's moving average of the parameters is dropped "
                            "(optim.ema_decay = 0)")
        return {**saved, "ema_params": None}
    if ema is None:
        logging.info("the checkpoint holds no moving average of the parameters: it starts "
                     "at the parameters")
        ema = saved["params"]
    return {**saved, "ema_params": ema}


class Checkpointer:
    """Saves and restores the training run in ``<workdir>/checkpoints`` (all hosts call it)."""

    def __init__(self, workdir: str | os.PathLike, keep: int | None = None,
                 read_only: bool = False):
        self.directory = checkpoint_dir(workdir)
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, read_only=read_only, create=not read_only),
            item_handlers={"state": ocp.StandardCheckpointHandler(),
                           "data": grain.checkpoint.CheckpointHandler(),
                           "config": ocp.JsonCheckpointHandler()})

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def saved_step(self, step: int | None = None) -> int:
        """``step`` (default: the last saved one); ``FileNotFoundError`` if it is not saved."""
        steps = self.all_steps()
        step = max(steps, default=None) if step is None else step
        if step not in steps:
            raise FileNotFoundError(f"no checkpoint {'' if step is None else step} in "
                                    f"{self.directory} (saved steps: {steps})")
        return step

    def save(self, state: TrainState, rng: np.ndarray, data_iterator: DataState,
             config: ml_collections.ConfigDict) -> None:
        """Start an asynchronous save of the host copy of ``state`` at ``state.step``."""
        self.manager.save(int(state.step), args=ocp.args.Composite(
            state=ocp.args.StandardSave({"train_state": flax.serialization.to_state_dict(state),
                                         "rng": np.asarray(rng)}),
            data=grain.checkpoint.CheckpointSave(data_iterator),
            config=ocp.args.JsonSave(json.loads(config.to_json()))))

    def saved_config(self, step: int) -> ml_collections.ConfigDict:
        restored = self.manager.restore(step, args=ocp.args.Composite(
            config=ocp.args.JsonRestore()))
        return ml_collections.ConfigDict(restored.config)

    def check_model(self, step: int, wanted: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming both unless checkpoint ``step`` holds model ``wanted``."""
        # Compared as ModelConfigs: a checkpoint written before a field was added to
        # ModelConfig lacks it and holds the same model as a config with it unset.
        saved = ModelConfig.from_dict(self.saved_config(step).model.to_dict()).to_dict()
        wanted = ModelConfig.from_dict(wanted).to_dict()
        if saved != wanted:
            raise ValueError(f"checkpoint {self.directory / str(step)} holds a model with "
                             f"configuration {saved}, but the configuration asks for {wanted}")

    def restore(self, step: int, template: TrainState, data_iterator: DataState
                ) -> tuple[TrainState, np.ndarray]:
        """The state (structured like ``template``) and RNG key saved at ``step``;
        ``data_iterator`` is moved to its saved position (a grain iterator stays at its
        start if the checkpoint holds none). The parameters' moving average follows the
        template (``ema_as_in``)."""
        saved, rng, held = self.restore_raw(step)
        saved = ema_as_in(saved, template)
        position = json.loads(held.state)
        if isinstance(data_iterator, HeldDataState):
            data_iterator.set_state(held.state)
        elif position is None:
            logging.warning("checkpoint %d holds no data-iterator position (saved by a run on "
                            "device-resident data that started without one): the training "
                            "data are read from their start", step)
        else:
            data_iterator.set_state(position)
            data_iterator.start_prefetch()
        return flax.serialization.from_state_dict(template, saved), rng

    def restore_raw(self, step: int) -> tuple[dict, np.ndarray, HeldDataState]:
        """Checkpoint ``step`` as saved: the ``TrainState`` as a nested dict of numpy arrays
        (optax's masked entries as empty dicts), the RNG key and the data-iterator position
        (held, so that ``save`` writes it back unchanged)."""
        held = HeldDataState()
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(), data=grain.checkpoint.CheckpointRestore(held)))
        return restored.state["train_state"], restored.state["rng"], held

    def params(self, step: int, ema: bool = False) -> Any:
        """The model parameters saved at ``step`` (nested dict of numpy arrays), or with
        ``ema`` their moving average (``ValueError`` if the run kept none)."""
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore()))
        state = restored.state["train_state"]
        if not ema:
            return state["params"]
        if state.get("ema_params") is None:
            raise ValueError(f"checkpoint {self.directory / str(step)} holds no moving average "
                             "of the parameters (the run had --config.optim.ema_decay=0)")
        return state["ema_params"]

    def close(self) -> None:
        """Wait for pending saves, then release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()

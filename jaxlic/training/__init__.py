"""Library-level training pieces: optimisers, schedules, state and the pure step."""

from jaxlic.training.optim import halving_schedule, make_optimizer, param_labels, pq_weight
from jaxlic.training.step import (LossConfig, TrainState, ema_update, make_train_step,
                                  train_step, training_loss)

__all__ = ["LossConfig", "TrainState", "ema_update", "halving_schedule", "make_optimizer",
           "make_train_step", "param_labels", "pq_weight", "train_step", "training_loss"]

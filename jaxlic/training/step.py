"""The pure training step: ``train_step(state, batch, rng) -> (new_state, metrics)``."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxlic.entropy import factorized
from jaxlic.losses import rd_loss
from jaxlic.models import AsymmetricModel
from jaxlic.training.optim import main_grad_norm, pq_weight


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training.

    ``bad_step`` is the first step whose loss or gradients were not finite (-1 if none);
    such steps leave parameters and optimiser state unchanged. ``ema_params`` is an
    exponential moving average of ``params`` (``ema_update``), or None when the run
    keeps none.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    bad_step: jax.Array
    ema_params: Any = None

    @classmethod
    def create(cls, params: Any, tx: optax.GradientTransformation,
               ema: bool = False) -> "TrainState":
        """Step 0, ``tx``'s initial state and, with ``ema``, an average that starts at
        ``params`` (a copy: a step may donate the state's buffers)."""
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                   bad_step=jnp.full((), -1, jnp.int32),
                   ema_params=jax.tree_util.tree_map(jnp.copy, params) if ema else None)


def ema_update(ema_params: Any, params: Any, step: jax.Array, decay: float) -> Any:
    """The moving average after ``step``: ``d * ema + (1 - d) * params`` with
    ``d = min(decay, (1 + step) / (10 + step))``, so that early in a run from scratch the
    average follows the parameters (TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``). Its horizon is about ``1 / (1 - decay)`` steps."""
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step)).astype(jnp.float32)
    return jax.tree_util.tree_map(lambda e, p: d * e + (1.0 - d) * p, ema_params, params)


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """What the step optimises: ``lmbda * D + R + pq_weight(step) * L_PQ`` (+ aux loss).

    ``level_lmbdas`` (one lambda per quality level, ascending) trains a variable-rate
    model instead: each example draws a level (``draw_levels``) and is weighted by its lambda;
    ``lmbda`` is then unused. ``level_weights`` (one per level, or empty: all 1) weigh each
    example's whole ``lambda * D + R`` by its level's, e.g. to even out the levels'
    gradients (docs/training.md, "Clipping weighs the qualities"). ``rated_channels``
    leaves the channels of y from that index on out of the rate (see ``rd_loss``; None:
    all count).
    """

    lmbda: float
    distortion: str = "mse"
    pq_steps: int = 20_000
    level_lmbdas: tuple[float, ...] = ()
    rated_channels: int | None = None
    level_weights: tuple[float, ...] = ()


def draw_levels(rng: jax.Array, example_ids: jax.Array, levels: int) -> jax.Array:
    """One quality level per example, ``[B]`` int32, stratified: each run of ``levels``
    consecutive example ids (``0 .. levels - 1``, then the next ``levels``, ...) takes
    every level once, in an order drawn from ``fold_in(rng, run)``.

    Every example's level is uniform, as with independent draws, so the objective is the
    same; but a batch of a multiple of ``levels`` examples holds each level equally often,
    where independent draws leave it 0, 1 or more of the top level (whose lambda weighs
    most), and the gradient varies less from batch to batch (docs/training.md). A pure
    function of ``rng`` and the global ids: independent of how the batch is split across
    devices.
    """
    def level_of(i):
        order = jax.random.permutation(jax.random.fold_in(rng, i // levels), levels)
        return order[i % levels].astype(jnp.int32)

    return jax.vmap(level_of)(example_ids)


def training_loss(params: Any, batch: jax.Array, key: jax.Array, step: jax.Array, *,
                  model: AsymmetricModel, loss: LossConfig,
                  example_ids: jax.Array | None = None,
                  level: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The objective that ``train_step`` minimises, as a function of ``params`` for
    ``jax.grad``: ``(value, metrics)``.

    ``batch [B, H, W, 3]`` in [0, 1]. ``key`` draws the quantisation noise and, for a
    variable-rate loss, each example's quality level (``draw_levels``) unless ``level``
    (``[B]`` int) gives them; ``train_step`` passes ``fold_in(rng, step)``. ``example_ids``
    (``[B]`` int, default ``0 .. B - 1``) are the examples' indices in the global batch;
    ``step`` sets the PQF loss weight (``pq_weight``). ``value`` is ``rd_loss``'s plus
    the entropy bottleneck's aux loss; ``metrics`` are ``rd_loss``'s plus ``aux_loss``.
    """
    if example_ids is None:
        example_ids = jnp.arange(batch.shape[0])
    noise_rng, level_rng = jax.random.split(key)
    lmbda, weight, extra = loss.lmbda, None, {}
    if loss.level_lmbdas:
        if level is None:
            level = draw_levels(level_rng, example_ids, len(loss.level_lmbdas))
        lmbda = jnp.asarray(loss.level_lmbdas, jnp.float32)[level]
        if loss.level_weights:
            weight = jnp.asarray(loss.level_weights, jnp.float32)[level]
        extra["level"] = level.astype(jnp.float32)
    outputs = model.apply({"params": params}, batch, train=True, example_ids=example_ids,
                          rngs={"noise": noise_rng}, **extra)
    value, metrics = rd_loss(batch, outputs, lmbda, loss.distortion,
                             pq_weight(step, loss.pq_steps), loss.rated_channels, weight)
    aux = factorized.aux_loss(params["entropy_bottleneck"])
    metrics["aux_loss"] = aux
    return value + aux, metrics


def train_step(state: TrainState, batch: jax.Array, rng: jax.Array, *,
               model: AsymmetricModel, tx: optax.GradientTransformation, loss: LossConfig,
               axis_name: str | None = None,
               ema_decay: float = 0.0) -> tuple[TrainState, dict[str, jax.Array]]:
    """One optimisation step on ``batch [B, H, W, 3]`` in [0, 1].

    The step's key is ``fold_in(rng, step)`` and each example's noise depends on its
    global index, so a restart and any split of the batch across devices reproduce the
    same step. With ``axis_name`` (inside ``pmap``), gradients and metrics are averaged
    over that axis. A state with ``ema_params`` has them moved toward the new parameters
    (``ema_update`` with ``ema_decay``, which must then be in (0, 1)). Returns the new
    state and scalar metrics (``loss``, ``bpp``, ``bpp_y``, ``bpp_z``, ``mse``, ``psnr``,
    ``aux_loss``, see ``training_loss``; ``grad_norm``, the global norm of the gradient
    of the main parameters, all but the quantiles: what ``clip_norm`` clips).
    """
    if state.ema_params is not None and not 0.0 < ema_decay < 1.0:
        raise ValueError(f"the state keeps a moving average of the parameters, which needs "
                         f"an ema_decay in (0, 1), got {ema_decay}")
    local_batch = batch.shape[0]
    offset = jax.lax.axis_index(axis_name) * local_batch if axis_name else 0
    loss_fn = functools.partial(training_loss, batch=batch,
                                key=jax.random.fold_in(rng, state.step), step=state.step,
                                model=model, loss=loss,
                                example_ids=offset + jnp.arange(local_batch))
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
    if axis_name:
        grads = jax.lax.pmean(grads, axis_name)
        metrics = jax.lax.pmean(metrics, axis_name)
    # One scalar decides: the squared norm is finite iff every gradient entry is.
    grad_sq = sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grads))
    finite = jnp.isfinite(metrics["loss"]) & jnp.isfinite(grad_sq)
    metrics["grad_norm"] = main_grad_norm(grads)  # its squares are grad_sq's (XLA's CSE)

    def apply(operands):
        params, opt_state = operands
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = jax.lax.cond(finite, apply, lambda operands: operands,
                                     (state.params, state.opt_state))
    new_state = TrainState(
        step=state.step + 1,
        params=params,
        opt_state=opt_state,
        bad_step=jnp.where((state.bad_step < 0) & ~finite, state.step, state.bad_step),
        ema_params=(None if state.ema_params is None
                    else ema_update(state.ema_params, params, state.step, ema_decay)),
    )
    return new_state, metrics


def make_train_step(model: AsymmetricModel, tx: optax.GradientTransformation,
                    loss: LossConfig, axis_name: str | None = None,
                    ema_decay: float = 0.0) -> Callable:
    """``train_step`` with its static arguments bound: ``(state, batch, rng) -> (state, metrics)``.

    Wrap it once with ``jax.jit(..., donate_argnums=0)`` or ``jax.pmap(..., axis_name=...)``.
    """
    if not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1) (0: no moving average), got {ema_decay}")
    if len(loss.level_lmbdas) != model.config.rate_levels:
        raise ValueError(f"the model has {model.config.rate_levels} rate levels but the loss "
                         f"gives {len(loss.level_lmbdas)} lambdas (level_lmbdas)")
    if loss.level_weights and (len(loss.level_weights) != len(loss.level_lmbdas)
                               or min(loss.level_weights) <= 0):
        raise ValueError(f"level_weights must be {len(loss.level_lmbdas)} positive numbers, "
                         f"one per level, got {loss.level_weights}")
    return functools.partial(train_step, model=model, tx=tx, loss=loss, axis_name=axis_name,
                             ema_decay=ema_decay)

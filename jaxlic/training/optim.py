"""Optimisers and schedules of the training recipe (spec section 5.2)."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

Schedule = Callable[[jax.Array], jax.Array]


def halving_schedule(base: float = 1e-4, first_halving: int = 850_000,
                     every: int = 100_000, warmup: int = 0) -> Schedule:
    """``base * 0.5 ** n`` with n = 0 before ``first_halving`` and one more every ``every``
    steps from there (the paper: 1e-4 for 750k steps, then halved every 100k; spec A8);
    with ``warmup`` > 0 the rate rises linearly over the first ``warmup`` steps
    (``base * (step + 1) / warmup``)."""

    def schedule(step):
        n = jnp.floor((step - first_halving) / every) + 1.0
        ramp = jnp.minimum((step + 1.0) / warmup, 1.0) if warmup else 1.0
        return ramp * base * 0.5 ** jnp.maximum(n, 0.0)

    return schedule


def pq_weight(step: jax.Array, pq_steps: int = 20_000) -> jax.Array:
    """lambda_1 of the PQF loss: 1 for the first ``pq_steps`` steps, then exactly 0."""
    return jnp.where(step < pq_steps, 1.0, 0.0)


def is_aux_param(path: tuple[Any, ...]) -> bool:
    """The entropy bottleneck's quantiles are trained by the auxiliary optimiser only."""
    return any(getattr(k, "key", None) == "quantiles" for k in path)


def main_grad_norm(grads: Any) -> jax.Array:
    """Global norm of the gradient of every parameter but the quantiles: what the main
    optimiser's ``clip_norm`` clips."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(g))
                        for path, g in jax.tree_util.tree_leaves_with_path(grads)
                        if not is_aux_param(path)))


def param_labels(params: Any) -> Any:
    """``"aux"`` for the quantiles, ``"main"`` for everything else (same tree as params)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: "aux" if is_aux_param(path) else "main", params)


def make_optimizer(schedule: Schedule, aux_multiplier: float = 10.0,
                   clip_norm: float | None = None) -> optax.GradientTransformation:
    """Adam on the main parameters (optionally with global-norm clipping) and a separate
    Adam at ``aux_multiplier`` times the learning rate for the quantiles."""
    main = optax.adam(schedule)
    if clip_norm is not None:
        main = optax.chain(optax.clip_by_global_norm(clip_norm), main)
    aux = optax.adam(lambda step: aux_multiplier * schedule(step))
    return optax.multi_transform({"main": main, "aux": aux}, param_labels)

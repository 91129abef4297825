"""How much the quality-level draws of variable-rate training add to the gradient noise.

At a training checkpoint, computes the gradient of the training loss on ``--batches``
batches of the run's crops, each batch twice: with its levels drawn independently per
example (uniform) and with ``jaxlic.training.step.draw_levels`` (stratified: every run
of ``levels`` examples holds each level once). Both have the same expected gradient;
printed per group of components is the variance of the minibatch gradient about the
common mean, stratified over independent: raw (summed over parameters) and normalised
per parameter by its mean squared gradient (the scale Adam divides by)::

    python benchmarks/level_draws.py --run ~/jaxlic-runs/main:32000 --batches 20

With ``--per-level``, prints instead the global norm of the gradient at each level (every
example of a batch at that level) over all parameters but the quantiles: what
``optim.clip_norm`` clips (docs/training.md, "Clipping weighs the qualities")::

    python benchmarks/level_draws.py --run ~/jaxlic-runs/main:49500 --batches 3 \\
        --batch-size 2 --per-level
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys
import time
from typing import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the train package

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import AsymmetricModel, ModelConfig
from jaxlic.training import training_loss
from jaxlic.training.optim import main_grad_norm
from jaxlic.training.step import draw_levels
from train.checkpoint import Checkpointer
from train.input_pipeline import load_pool, sample_crops
from train.loop import loss_config

GROUPS = {"g_a + importance map": ("g_a", "importance_map"),
          "g_s + PQF": ("g_s", "pqf"),
          "entropy model": ("h_a", "h_s", "context", "entropy_parameters",
                            "entropy_bottleneck"),
          "gains": ("gain_y", "gain_z")}


def gradient_fn(spec: str, batch_size: int) -> tuple[Callable, int]:
    """``(grad, levels)``: ``grad(key, level [B])``, the gradient of the training loss at
    checkpoint ``spec`` (``WORKDIR:STEP``) on the batch of the run's crops that ``key``
    draws; ``levels``, the run's number of quality levels."""
    workdir, step = spec.rsplit(":", 1)
    checkpointer = Checkpointer(pathlib.Path(workdir).expanduser(), read_only=True)
    config = checkpointer.saved_config(int(step))
    params = checkpointer.params(int(step))
    model_config = ModelConfig.from_dict(config.model.to_dict())
    if not model_config.variable_rate:
        raise SystemExit(f"{spec} is not a variable-rate run")
    model, loss = AsymmetricModel(model_config), loss_config(config)
    levels = len(loss.level_lmbdas)
    pool = jax.tree.map(jnp.asarray, load_pool(config.data))
    ids = jnp.arange(batch_size)

    @jax.jit
    def grad(params, key, level):
        x = sample_crops(pool, key, ids, config.data.crop_size, True).astype(jnp.float32) / 255
        return jax.grad(training_loss, has_aux=True)(params, x, key, int(step), model=model,
                                                     loss=loss, example_ids=ids, level=level)[0]

    return functools.partial(grad, params), levels


def level_norms(spec: str, batches: int, batch_size: int) -> np.ndarray:
    """``[levels, batches]``: the global norm of the gradient of all parameters but the
    quantiles, every example of batch ``b`` at the level."""
    grad, levels = gradient_fn(spec, batch_size)
    norm = jax.jit(main_grad_norm)
    return np.array([[float(norm(grad(jax.random.PRNGKey(b), jnp.full(batch_size, level))))
                      for b in range(batches)] for level in range(levels)])


def gradients(spec: str, batches: int, batch_size: int) -> dict[str, np.ndarray]:
    """Flat gradients ``{mode: [batches, P]}`` per component group (``mode/group``)."""
    grad, levels = gradient_fn(spec, batch_size)
    ids = jnp.arange(batch_size)

    def flat(g):
        return {name: np.concatenate([np.ravel(v) for part in parts if part in g
                                      for v in jax.tree_util.tree_leaves(g[part])])
                for name, parts in GROUPS.items()}

    out = {"independent": [], "stratified": []}
    for b in range(batches):
        key = jax.random.PRNGKey(b)
        independent = jax.random.randint(jax.random.fold_in(key, 1), (batch_size,), 0, levels)
        stratified = draw_levels(jax.random.fold_in(key, 2), ids, levels)
        out["independent"].append(flat(grad(key, independent)))
        out["stratified"].append(flat(grad(key, stratified)))
    return {f"{mode}/{name}": np.stack([g[name] for g in grads])
            for mode, grads in out.items() for name in GROUPS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="WORKDIR:STEP of a variable-rate run")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--per-level", action="store_true",
                        help="print the gradient's global norm at each level instead")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.per_level:
        norms = level_norms(args.run, args.batches, args.batch_size)
        print(f"{args.batches} batches of {args.batch_size}, {time.perf_counter() - start:.0f} s")
        print(f"{'level':<8}{'mean norm':>10}{'min':>8}{'max':>8}")
        for level, n in enumerate(norms, 1):
            print(f"{level:<8}{n.mean():>10.2f}{n.min():>8.2f}{n.max():>8.2f}")
        return
    grads = gradients(args.run, args.batches, args.batch_size)
    print(f"{args.batches} batches of {args.batch_size}, {time.perf_counter() - start:.0f} s")
    print(f"{'components':<24}{'raw variance ratio':>20}{'normalised':>12}")
    for name in GROUPS:
        a, s = grads[f"independent/{name}"], grads[f"stratified/{name}"]
        both = np.concatenate([a, s])
        mean, square = both.mean(0), np.mean(both**2, axis=0) + 1e-30
        var_a, var_s = np.mean((a - mean) ** 2, axis=0), np.mean((s - mean) ** 2, axis=0)
        print(f"{name:<24}{var_s.sum() / var_a.sum():>20.3f}"
              f"{np.mean(var_s / square) / np.mean(var_a / square):>12.3f}")


if __name__ == "__main__":
    main()

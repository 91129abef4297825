"""The jitted train step: it learns, schedules are right, bad steps are caught."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic import AsymmetricModel
from jaxlic.training import (
    LossConfig, TrainState, halving_schedule, make_optimizer, make_train_step, param_labels,
    pq_weight, training_loss)


def test_halving_schedule_and_pq_weight():
    lr = halving_schedule(1e-4)
    assert float(lr(0)) == pytest.approx(1e-4)
    assert float(lr(849_999)) == pytest.approx(1e-4)
    assert float(lr(850_000)) == pytest.approx(5e-5)
    assert float(lr(1_449_999)) == pytest.approx(1e-4 / 64)
    assert float(lr(1_450_000)) == pytest.approx(1e-4 / 128)
    assert float(pq_weight(19_999)) == 1.0 and float(pq_weight(20_000)) == 0.0


def test_quantiles_use_the_aux_optimizer(tiny_params):
    labels = param_labels(tiny_params)
    assert labels["entropy_bottleneck"]["quantiles"] == "aux"
    assert labels["entropy_bottleneck"]["matrix_0"] == "main"
    assert labels["g_a"]["DownBlock_0"]["Conv_0"]["kernel"] == "main"


def test_tiny_model_overfits_one_image(tiny_config, tiny_params, kodak_image):
    model = AsymmetricModel(tiny_config)
    tx = make_optimizer(halving_schedule(1e-3))
    step = jax.jit(make_train_step(model, tx, LossConfig(lmbda=0.01)))
    state = TrainState.create(tiny_params, tx)
    batch = jnp.asarray(kodak_image[None, 200:264, 300:364] / 255.0, jnp.float32)
    rng = jax.random.PRNGKey(0)
    losses = []
    for _ in range(200):
        state, metrics = step(state, batch, rng)
        losses.append(metrics["loss"])
    losses = np.asarray(jax.device_get(losses))
    assert np.all(np.isfinite(losses))
    first, last = losses[:5].mean(), losses[-5:].mean()
    assert last < 0.7 * first, (first, last)
    assert int(state.step) == 200 and int(state.bad_step) == -1


def test_moving_average_of_the_parameters(tiny_config, tiny_params):
    """The step keeps d * ema + (1 - d) * params with d = min(decay, (1 + t) / (10 + t)),
    checked in float64 against the parameters of each step."""
    model = AsymmetricModel(tiny_config)
    tx = make_optimizer(halving_schedule(1e-3))
    step = jax.jit(make_train_step(model, tx, LossConfig(lmbda=0.01), ema_decay=0.3))
    state = TrainState.create(tiny_params, tx, ema=True)
    assert TrainState.create(tiny_params, tx).ema_params is None
    expected = jax.tree_util.tree_map(lambda p: np.asarray(p, np.float64), tiny_params)
    batch = jnp.full((1, 64, 64, 3), 0.25)
    for t in range(5):
        state, _ = step(state, batch, jax.random.PRNGKey(t))
        d = min(0.3, (1 + t) / (10 + t))  # 0.1, 0.18, 0.25, then the decay 0.3
        expected = jax.tree_util.tree_map(lambda e, p: d * e + (1 - d) * np.asarray(p),
                                          expected, state.params)
    moved = jax.tree_util.tree_map(lambda a, b: bool(np.any(a != b)), state.params, tiny_params)
    assert any(jax.tree_util.tree_leaves(moved))
    for e, a in zip(jax.tree_util.tree_leaves(expected),
                    jax.tree_util.tree_leaves(state.ema_params)):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="ema_decay"):
        make_train_step(model, tx, LossConfig(lmbda=0.01), ema_decay=1.0)
    with pytest.raises(ValueError, match="moving average"):  # a state with one, a step without
        jax.jit(make_train_step(model, tx, LossConfig(lmbda=0.01)))(state, batch,
                                                                    jax.random.PRNGKey(0))


def test_grad_norm_is_the_norm_that_clipping_sees(tiny_config, tiny_params):
    """``grad_norm``: the global norm of the gradient of every parameter but the
    quantiles (which the aux optimiser trains, unclipped)."""
    model, loss = AsymmetricModel(tiny_config), LossConfig(lmbda=0.01)
    tx = make_optimizer(halving_schedule(1e-3), clip_norm=1.0)
    step = jax.jit(make_train_step(model, tx, loss))
    batch, rng = jnp.linspace(0, 1, 64 * 64 * 3).reshape(1, 64, 64, 3), jax.random.PRNGKey(3)
    _, metrics = step(TrainState.create(tiny_params, tx), batch, rng)
    grads = jax.grad(training_loss, has_aux=True)(
        tiny_params, batch, jax.random.fold_in(rng, 0), 0, model=model, loss=loss)[0]
    main = [np.asarray(g, np.float64) for path, g in jax.tree_util.tree_leaves_with_path(grads)
            if "quantiles" not in jax.tree_util.keystr(path)]
    expected = np.sqrt(sum(np.sum(g**2) for g in main))
    assert len(main) < len(jax.tree_util.tree_leaves(grads))
    assert float(metrics["grad_norm"]) == pytest.approx(expected, rel=1e-4)


def test_non_finite_step_is_skipped_and_recorded(tiny_config, tiny_params):
    model = AsymmetricModel(tiny_config)
    tx = make_optimizer(halving_schedule(1e-3))
    step = jax.jit(make_train_step(model, tx, LossConfig(lmbda=0.01)))
    state = TrainState.create(tiny_params, tx)
    good = jnp.full((1, 64, 64, 3), 0.5)
    state, _ = step(state, good, jax.random.PRNGKey(0))
    bad = good.at[0, 0, 0, 0].set(jnp.nan)
    new, metrics = step(state, bad, jax.random.PRNGKey(0))
    assert not np.isfinite(float(metrics["loss"]))
    assert int(new.bad_step) == 1 and int(new.step) == 2
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), new.params, state.params)
    assert all(jax.tree_util.tree_leaves(same))


def test_noise_is_uniform_and_independent_of_batch_composition():
    from jaxlic.ops.quantize import add_uniform_noise

    x = jnp.zeros((5, 4, 4, 3))
    key = jax.random.PRNGKey(0)
    full = add_uniform_noise(x, key, jnp.arange(5))
    part = add_uniform_noise(x[3:], key, jnp.arange(3, 5))
    np.testing.assert_array_equal(full[3:], part)
    assert float(full.min()) >= -0.5 and float(full.max()) < 0.5
    assert abs(float(full.mean())) < 0.05

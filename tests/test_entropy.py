"""Entropy models: normalisation, stability and gradients of the GMM and factorised prior."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.entropy import factorized, gmm
from jaxlic.entropy.factorized import EntropyBottleneck


def _random_mixture(key, channels, k=3):
    k1, k2, k3 = jax.random.split(key, 3)
    logits = jax.random.normal(k1, (k, channels)) * 3
    # means from near zero to far outside the support; scales from tiny to huge
    means = jnp.concatenate([jax.random.normal(k2, (k, channels - 4)) * 20,
                             jnp.array([[-1e4, 1e4, 300.5, -280.2]] * k)], axis=1)
    log_scales = jax.random.uniform(k3, (k, channels), minval=-6.0, maxval=10.0)
    raw = jnp.stack([logits, means, jnp.exp(log_scales)], axis=1).reshape(3 * k * channels)
    return gmm.mixture_from_raw(raw, k)


def test_gmm_pmf_sums_to_one_over_tail_to_tail_support():
    support = jnp.arange(-255, 257, dtype=jnp.float32)  # -255: lower tail bin, 256: upper
    for seed in range(5):
        mix = _random_mixture(jax.random.PRNGKey(seed), 64)
        y = jnp.broadcast_to(support[:, None], (support.size, 64))
        mass = gmm.bin_mass(y, jax.tree_util.tree_map(lambda a: a[None], mix))
        assert np.all(np.isfinite(mass))
        np.testing.assert_allclose(np.asarray(mass, np.float64).sum(0), 1.0, atol=1e-4)


def test_gmm_likelihood_is_bounded_and_gradients_finite():
    mix = _random_mixture(jax.random.PRNGKey(7), 32)

    def total_bits(y, means, scales):
        m = gmm.Mixture(mix.weights, means, scales)
        return -jnp.sum(jnp.log2(gmm.likelihood(y, m)))

    y = jnp.linspace(-400, 400, 32)
    value = total_bits(y, mix.means, mix.scales)
    assert np.isfinite(value)
    lik = gmm.likelihood(y, mix)
    assert np.all((lik >= 1e-6) & (lik <= 1.0))
    grads = jax.grad(total_bits, argnums=(0, 1, 2))(y, mix.means, mix.scales)
    for g in grads:
        assert np.all(np.isfinite(g))
    # raw head outputs of any size give finite parameters and gradients
    head = jax.random.normal(jax.random.PRNGKey(1), (9 * 8,)) * 1e3
    g = jax.grad(lambda r: jnp.sum(jnp.log(gmm.likelihood(jnp.zeros(8),
                                                          gmm.mixture_from_raw(r, 3)))))(head)
    assert np.all(np.isfinite(g))


def test_gmm_scale_lower_bound():
    raw = jnp.zeros((9,))  # all scales 0 -> bounded at 0.11
    mix = gmm.mixture_from_raw(raw, 3)
    np.testing.assert_allclose(mix.scales, 0.11)
    np.testing.assert_allclose(mix.weights, 1 / 3, rtol=1e-6)


def test_factorized_pmf_sums_to_one_per_channel():
    eb = EntropyBottleneck(6)
    params = eb.init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2, 6)))["params"]
    # perturb the density away from its initial shape
    params = jax.tree_util.tree_map(
        lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(1), p.shape), params)
    support = jnp.arange(-200, 201, dtype=jnp.float32)
    z = jnp.broadcast_to(support[:, None], (support.size, 6))
    p = factorized.bin_probability(params, z)
    np.testing.assert_allclose(np.asarray(p, np.float64).sum(0), 1.0, atol=1e-3)
    assert np.all(np.asarray(factorized.likelihood(params, z)) >= 1e-9)


def test_aux_loss_only_moves_quantiles():
    eb = EntropyBottleneck(4)
    params = eb.init(jax.random.PRNGKey(0), jnp.zeros((1, 1, 1, 4)))["params"]
    grads = jax.grad(factorized.aux_loss)(params)
    for name, g in grads.items():
        if name == "quantiles":
            assert np.abs(np.asarray(g)).sum() > 0
        else:
            assert np.all(np.asarray(g) == 0), name


def test_lower_bound_gradient_passes_only_towards_the_bound():
    from jaxlic.ops.math import lower_bound

    f = lambda x, s: jnp.sum(s * lower_bound(x, 1.0))
    x = jnp.array([0.5, 2.0])
    np.testing.assert_array_equal(jax.grad(f)(x, jnp.array([1.0, 1.0])), [0.0, 1.0])
    np.testing.assert_array_equal(jax.grad(f)(x, jnp.array([-1.0, -1.0])), [-1.0, -1.0])


def test_gmm_likelihood_matches_float64_reference():
    from scipy.stats import norm

    rng = np.random.default_rng(3)
    c, k = 40, 3
    raw = np.stack([rng.normal(0, 2, (k, c)), rng.normal(0, 5, (k, c)),
                    rng.uniform(0.05, 8, (k, c))], axis=1).reshape(-1).astype(np.float32)
    y = np.round(rng.normal(0, 6, c)).astype(np.float32)
    y[:2] = [-300.0, 400.0]  # the two tail bins
    lik = np.asarray(gmm.likelihood(jnp.asarray(y), gmm.mixture_from_raw(jnp.asarray(raw), k)))
    r = raw.astype(np.float64).reshape(k, 3, c)
    w = np.exp(r[:, 0]) / np.exp(r[:, 0]).sum(0)
    mu, s = r[:, 1], np.maximum(np.abs(r[:, 2]), 0.11)
    mass = (w * (norm.cdf((y + 0.5 - mu) / s) - norm.cdf((y - 0.5 - mu) / s))).sum(0)
    mass[0] = (w[:, 0] * norm.cdf((y[0] + 0.5 - mu[:, 0]) / s[:, 0])).sum()
    mass[1] = (w[:, 1] * norm.sf((y[1] - 0.5 - mu[:, 1]) / s[:, 1])).sum()
    expected = np.clip(mass, 1e-6, 1.0)
    np.testing.assert_allclose(lik, expected, rtol=2e-4, atol=1e-7)

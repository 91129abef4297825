"""Layers: causality of the context model, GDN formulas, alignment, sub-pixel order, PQF."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic.layers import GDN, MaskedConv, PostQuantFilter, causal_offsets, conv, depth_to_space


def test_masked_conv_is_causal():
    h, w, c = 7, 8, 3
    layer = MaskedConv(c, 4)
    x = jax.random.normal(jax.random.PRNGKey(0), (1, h, w, c))
    params = layer.init(jax.random.PRNGKey(1), x)
    r0, c0 = 3, 4
    grad = jax.grad(lambda x: layer.apply(params, x)[0, r0, c0].sum())(x)[0]
    raster = np.arange(h * w).reshape(h, w)
    later = raster >= raster[r0, c0]
    assert np.all(np.asarray(grad)[later] == 0.0)
    # the 12 causal taps are live
    live = np.abs(np.asarray(grad)).sum(-1) > 0
    for dr, dc in causal_offsets():
        assert live[r0 + dr, c0 + dc]
    assert live.sum() == 12


def test_masked_conv_from_taps_matches_full_conv():
    h, w, c = 6, 9, 4
    layer = MaskedConv(c, 5)
    x = jax.random.normal(jax.random.PRNGKey(2), (1, h, w, c))
    params = layer.init(jax.random.PRNGKey(3), x)
    full = np.asarray(layer.apply(params, x))[0]
    padded = np.pad(np.asarray(x)[0], ((2, 2), (2, 2), (0, 0)))
    positions = [(0, 0), (2, 5), (5, 8), (3, 0)]
    taps = np.stack([[padded[r + 2 + dr, q + 2 + dc] for dr, dc in causal_offsets()]
                     for r, q in positions])
    out = np.asarray(layer.apply(params, jnp.asarray(taps), method=MaskedConv.from_taps))
    np.testing.assert_allclose(out, np.stack([full[r, q] for r, q in positions]),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_matches_formula(inverse):
    c = 5
    layer = GDN(inverse=inverse)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 4, c))
    params = layer.init(jax.random.PRNGKey(1), x)
    rng = np.random.default_rng(0)
    beta = rng.uniform(0.5, 2.0, c)
    gamma = rng.uniform(0.0, 0.3, (c, c))
    # store the effective values through the reparameterisation sqrt(v + 2^-36)
    params = {"params": {"beta": jnp.sqrt(beta + 2.0**-36), "gamma": jnp.sqrt(gamma + 2.0**-36)}}
    out = np.asarray(layer.apply(params, x), np.float64)
    xn = np.asarray(x, np.float64)
    norm = np.sqrt(beta + np.einsum("...j,ji->...i", xn**2, gamma))
    expected = xn * norm if inverse else xn / norm
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_gdn_initial_values_and_bounds():
    layer = GDN()
    x = jnp.ones((1, 2, 2, 3))
    params = layer.init(jax.random.PRNGKey(0), x)
    # beta = 1, gamma = 0.1 I at init: y = x / sqrt(1 + 0.1 x^2)
    np.testing.assert_allclose(layer.apply(params, x), 1 / np.sqrt(1.1), rtol=1e-6)
    # negative raw parameters are clamped to the bounds: gamma >= 0, beta >= 1e-6
    bad = {"params": {"beta": -jnp.ones(3), "gamma": -jnp.ones((3, 3))}}
    np.testing.assert_allclose(layer.apply(bad, x), 1 / np.sqrt(1e-6), rtol=1e-3)


def test_stride2_conv_and_shortcut_are_aligned():
    """3x3/2 with explicit padding and 1x1/2 both sample input position 2i."""
    x = jnp.zeros((1, 8, 8, 1)).at[0, 4, 6, 0].set(1.0)
    centre = conv(1, 3, stride=2, use_bias=False)
    k3 = jnp.zeros((3, 3, 1, 1)).at[1, 1].set(1.0)
    out3 = centre.apply({"params": {"kernel": k3}}, x)
    ones = {"params": {"kernel": jnp.ones((1, 1, 1, 1))}}
    out1 = conv(1, 1, stride=2, use_bias=False).apply(ones, x)
    assert out3.shape == out1.shape == (1, 4, 4, 1)
    np.testing.assert_array_equal(out3, out1)
    assert out1[0, 2, 3, 0] == 1.0


def test_depth_to_space_is_dcr_order():
    c = 2
    x = jnp.arange(4 * c, dtype=jnp.float32).reshape(1, 1, 1, 4 * c)
    out = depth_to_space(x)
    for i in range(2):
        for j in range(2):
            for ch in range(c):
                assert out[0, i, j, ch] == (2 * i + j) * c + ch


def test_pqf_starts_as_identity_and_has_10c_parameters():
    y = jax.random.normal(jax.random.PRNGKey(0), (1, 4, 5, 6))
    layer = PostQuantFilter()
    params = layer.init(jax.random.PRNGKey(1), y)
    assert sum(p.size for p in jax.tree_util.tree_leaves(params)) == 10 * 6
    np.testing.assert_allclose(layer.apply(params, y), y, atol=1e-6)

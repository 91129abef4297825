"""The exact probability path: integer layers, integer h_s and head, integer mixture tables."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from jaxlic import AsymmetricModel, Codec
from jaxlic.coding import weights
from jaxlic.coding.exact import ExactEntropyModel, MixtureGrid, frequencies
from jaxlic.coding.exact import model as exact_model
from jaxlic.coding.exact.head import RAW_FRAC
from jaxlic.coding.exact.linear import ACC_LIMIT, ACT_LIMIT, quantize_linear
from jaxlic.coding.exact.mixture import build_tables
from jaxlic.coding.exact.model import coding_tables, exact_xla, to_device
from jaxlic.coding.tables import PRECISION


@pytest.fixture(scope="module")
def exact(tiny_params):
    return ExactEntropyModel.build(tiny_params)


@pytest.fixture(scope="module")
def device_tables(exact):
    return exact.tables.device()


def test_integer_layer_is_exact_in_any_order_and_batch():
    """Inputs at the clamp limit: float64 BLAS equals exact Python-integer arithmetic, for
    the whole batch, row by row, and with the input features permuted."""
    rng = np.random.default_rng(0)
    layer = quantize_linear(rng.normal(0, 0.05, (300, 7)), rng.normal(0, 1, 7), 10, 12,
                            ACT_LIMIT, leaky=True)
    worst = np.abs(layer.kernel).sum(0) * ACT_LIMIT + np.abs(layer.bias)
    assert worst.max() > ACC_LIMIT / 8  # the scale uses most of the exact range
    x = rng.choice([-ACT_LIMIT, ACT_LIMIT], (5, 300))
    x[0] = np.sign(layer.kernel[:, 0]) * ACT_LIMIT  # the worst case of channel 0
    acc = (x.astype(np.int64).astype(object) @ layer.kernel.astype(np.int64).astype(object)
           + layer.bias.astype(np.int64).astype(object))
    np.testing.assert_array_equal(layer.products(x) + layer.bias, acc.astype(np.float64))
    whole = layer(x)
    np.testing.assert_array_equal(np.concatenate([layer(row[None]) for row in x]), whole)
    perm = rng.permutation(300)
    shuffled = dataclasses.replace(layer, kernel=layer.kernel[perm])
    np.testing.assert_array_equal(shuffled(x[:, perm]), whole)
    assert np.all(whole == np.round(whole)) and np.abs(whole).max() <= ACT_LIMIT


def test_stored_layers_are_checked(exact):
    arrays = exact.arrays()
    key = "exact/head/2/kernel"
    tampered = {**arrays, key: arrays[key] * 64}
    with pytest.raises(ValueError, match="exact float64"):
        ExactEntropyModel.from_arrays(tampered)
    negative = {**arrays, "exact/hyper/0/shift": arrays["exact/hyper/0/shift"] - 99}
    with pytest.raises(ValueError, match="exact float64"):
        ExactEntropyModel.from_arrays(negative)
    with pytest.raises(ValueError, match="mixture tables"):
        ExactEntropyModel.from_arrays({**arrays, "exact/mixture/thresholds":
                                       arrays["exact/mixture/thresholds"][::-1].copy()})
    again = ExactEntropyModel.from_arrays(arrays)
    z = np.random.default_rng(0).normal(0, 3, (2, 3, 16))
    np.testing.assert_array_equal(again.hyper(z), exact.hyper(z))


def _model(tiny_config, tiny_params, method, *args):
    return np.asarray(AsymmetricModel(tiny_config).apply(
        {"params": tiny_params}, *(jnp.asarray(a, jnp.float32) for a in args), method=method))


def test_integer_hyper_synthesis_follows_the_float_one(exact, tiny_config, tiny_params):
    rng = np.random.default_rng(0)
    z = rng.integers(-4, 5, (3, 4, 16)) + np.asarray(tiny_params["entropy_bottleneck"]
                                                     ["quantiles"][:, 1])
    phi = _model(tiny_config, tiny_params, AsymmetricModel.hyper_synthesis, z[None])[0]
    phi_q = exact.hyper(z)
    assert phi_q.shape == phi.shape and np.all(phi_q == np.round(phi_q))
    error = np.ldexp(phi_q, -exact.hyper.layers[-1].frac_out) - phi
    assert np.abs(error).max() < 1e-3 * np.abs(phi).max()


@pytest.mark.parametrize("positions", [1, 15, 10_000])  # bands of 1 row, 3 rows, all
def test_banded_hyper_synthesis_is_the_whole_one(exact, monkeypatch, positions):
    """h_s in bands of rows (so that memory stays bounded on large images) gives the
    whole-image integers bit for bit; a halo one row short of h_s's reach would not."""
    z = np.random.default_rng(3).normal(0, 3, (11, 5, 16))
    whole = exact.hyper(z)
    monkeypatch.setattr(exact_model, "HYPER_POSITIONS", positions)
    with exact_xla():
        hyper = to_device(exact.hyper)
        np.testing.assert_array_equal(exact_model.hyper_synthesis(hyper, z), whole)
        if positions == 1:
            monkeypatch.setattr(exact_model, "HYPER_HALO", exact_model.HYPER_HALO - 1)
            assert not np.array_equal(exact_model.hyper_synthesis(hyper, z), whole)


def test_integer_head_follows_the_float_one(exact, tiny_config, tiny_params):
    rng = np.random.default_rng(1)
    taps = rng.integers(-6, 7, (9, 12, 16))
    phi_q = rng.integers(-2**14, 2**14, (9, 32)).astype(np.float64)
    head = exact.head
    raw = head.raw(taps.reshape(9, -1), head.phi_products(phi_q), head.out)
    phi = np.ldexp(phi_q, -exact.hyper.layers[-1].frac_out)
    model = AsymmetricModel(tiny_config)
    features = jnp.concatenate([model.apply({"params": tiny_params}, jnp.asarray(taps, jnp.float32),
                                            method=lambda m, t: m.context.from_taps(t)),
                                jnp.asarray(phi, jnp.float32)], -1)
    expected = np.asarray(model.apply({"params": tiny_params}, features,
                                      method=lambda m, f: m.entropy_parameters(f)))
    error = np.ldexp(raw.astype(np.float64), -RAW_FRAC) - expected
    assert raw.dtype == np.int32 and np.abs(error).max() < 1e-3 * np.abs(expected).max()
    subset = np.array([3, 0, 11])
    part = head.raw(taps.reshape(9, -1), head.phi_products(phi_q), head.columns(subset, 3))
    np.testing.assert_array_equal(part.reshape(9, 9, 3), raw.reshape(9, 9, 16)[:, :, subset])


def _raw(logits, means, scales):
    """Raw parameters ``[P, 9]`` (one channel, K = 3) from float values."""
    stacked = np.stack([logits, means, scales], axis=-1)  # [P, K, 3]
    return np.round(np.ldexp(stacked, RAW_FRAC)).astype(np.int32).reshape(len(logits), -1)


def test_mixture_frequencies_follow_the_mixture(device_tables):
    rng = np.random.default_rng(0)
    p = 200
    logits = rng.normal(0, 2, (p, 3))
    means = rng.uniform(-6, 6, (p, 3))
    scales = np.exp(rng.uniform(np.log(0.05), np.log(40), (p, 3)))
    radius = 12
    f = np.asarray(frequencies(jnp.asarray(_raw(logits, means, scales)), device_tables, 3,
                               radius))[:, 0]
    assert f.shape == (p, 2 * radius + 1) and f.min() >= 1
    assert np.all(f.sum(-1) == 1 << PRECISION)
    w = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    sigma = np.maximum(scales, 0.11)
    bounds = np.arange(-radius, radius) + 0.5
    cdf = (w[:, None] * norm.cdf((bounds[None, :, None] - means[:, None]) / sigma[:, None])).sum(-1)
    pmf = np.diff(np.concatenate([np.zeros((p, 1)), cdf, np.ones((p, 1))], -1), axis=-1)
    q = f / 2.0**PRECISION
    kl = (pmf * np.log2(np.maximum(pmf, 1e-300) / q)).sum(-1)  # bits lost per symbol
    assert kl.mean() < 2e-4 and kl.max() < 5e-3, (kl.mean(), kl.max())


def test_frequencies_are_valid_for_any_raw_parameters(device_tables):
    rng = np.random.default_rng(1)
    extreme = np.array([-2**30, -1, 0, 1, 2**30], np.int64)
    raw = np.concatenate([rng.choice(extreme, (64, 9)), rng.integers(-2**30, 2**30, (64, 9))])
    for radius in (1, 8, 64):
        f = np.asarray(frequencies(jnp.asarray(raw.astype(np.int32)), device_tables, 3, radius))
        assert f.min() >= 1 and np.all(f.sum(-1) == 1 << PRECISION)


def test_tables_do_not_depend_on_batch_or_padding(exact, device_tables):
    rng = np.random.default_rng(2)
    taps = rng.integers(-9, 10, (13, 12 * 16)).astype(np.float64)
    phi_q = rng.integers(-2**15, 2**15, (13, 32)).astype(np.float64)
    phi = exact.head.phi_products(phi_q)
    raw = exact.head.raw(taps, phi, exact.head.out)
    rows = [exact.head.raw(taps[i:i + 1], phi[i:i + 1], exact.head.out) for i in range(13)]
    np.testing.assert_array_equal(np.concatenate(rows), raw)
    whole = np.asarray(frequencies(jnp.asarray(raw), device_tables, 3, 6))
    padded = np.concatenate([raw, np.repeat(raw[:1], 19, 0)])
    np.testing.assert_array_equal(
        np.asarray(frequencies(jnp.asarray(padded), device_tables, 3, 6))[:13], whole)
    np.testing.assert_array_equal(
        np.asarray(frequencies(jnp.asarray(raw[5:6]), device_tables, 3, 6)), whole[5:6])
    with exact_xla():  # the coder's XLA program gives the NumPy evaluation's integers
        fused = coding_tables(to_device(exact.head), to_device(exact.head.out), taps, phi_q,
                              to_device(exact.tables.device()), 3, 6)
    np.testing.assert_array_equal(np.asarray(fused), whole)


def test_grid_resolution_sets_the_table_size():
    coarse = build_tables(MixtureGrid(scale_max=32.0, ratio=1.15, phases=4.0, max_phase_bits=3))
    fine = build_tables()
    assert coarse.cdf.size < fine.cdf.size / 20
    assert coarse.thresholds.size < fine.thresholds.size


def test_version_1_weights_derive_the_exact_model(tmp_path, tiny_config, tiny_params):
    codec = Codec(tiny_config, tiny_params)
    path = tmp_path / "v1.npz"
    weights.save(path, tiny_config, codec.params, codec.z_tables.arrays())
    with np.load(path) as npz:
        arrays = dict(npz)
    meta = np.frombuffer(arrays["meta.json"].tobytes().replace(b'"version": 2', b'"version": 1'),
                         np.uint8)
    np.savez(path, **{**arrays, "meta.json": meta})
    assert Codec.load(path).model_id == codec.model_id

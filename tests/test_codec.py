"""End-to-end coding with real bitstreams: exact latents, rates, sizes, errors, fuzzing."""

import dataclasses
import time
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic import AsymmetricModel, BitstreamError, Codec, ModelConfig, WeightsError
from jaxlic.coding import bitstream
from jaxlic.coding.exact import frequencies
from jaxlic.coding.tables import PRECISION
from jaxlic.coding.wavefront import TapGatherer
from jaxlic.entropy import factorized, gmm
from jaxlic.ops.quantize import round_about


@pytest.fixture(scope="module")
def codec(tiny_config, tiny_params):
    return Codec(tiny_config, tiny_params)


@pytest.fixture(scope="module")
def other_codec(tiny_config):
    return Codec.random(tiny_config, seed=1)


def _image(h, w, seed=0, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 100 * np.sin(x / 7.0 + seed) * np.cos(y / 11.0)
    img = base[..., None] + rng.normal(0, 12, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h, w", [(1, 1), (65, 130), (64, 64), (17, 200)])
def test_roundtrip_reproduces_latents(codec, h, w):
    image = _image(h, w)
    data = codec.compress(image)
    np.testing.assert_array_equal(codec.decode_latents(data), codec.latents(image))
    out = codec.decompress(data)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_kodak_roundtrip_and_rate_matches_likelihood(codec, tiny_config, tiny_params, kodak_image):
    data = codec.compress(kodak_image)
    y_hat = codec.latents(kodak_image)
    np.testing.assert_array_equal(codec.decode_latents(data), y_hat)
    assert codec.decompress(data).shape == kodak_image.shape
    # The model's information content of the same y^ and z^ (full-tensor evaluation).
    # An untrained model gives many symbols a mass below the training clamp (1e-6), so
    # the reference floors masses at the coder's resolution, 2^-22, instead.
    model = AsymmetricModel(tiny_config)

    def apply(method, *args):
        return model.apply({"params": tiny_params}, *args, method=method)

    x = jnp.asarray(kodak_image[None] / 255.0, jnp.float32)
    y_tilde = apply(AsymmetricModel.analysis, x)
    z = apply(AsymmetricModel.hyper_analysis, y_tilde)
    z_hat = round_about(z, tiny_params["entropy_bottleneck"]["quantiles"][:, 1])
    phi = apply(AsymmetricModel.hyper_synthesis, z_hat)
    mix = apply(AsymmetricModel.mixture, jnp.asarray(y_hat[None], jnp.float32), phi)
    floor = 2.0**-PRECISION
    y_mass = np.maximum(np.asarray(gmm.bin_mass(jnp.asarray(y_hat[None], jnp.float32), mix)), floor)
    z_mass = np.maximum(np.asarray(factorized.bin_probability(
        tiny_params["entropy_bottleneck"], z_hat)), floor)
    model_bits = -np.log2(y_mass).sum() - np.log2(z_mass).sum()
    header, z_bytes, y_bytes = bitstream.unpack(data)
    payload_bits = 8 * (len(z_bytes) + len(y_bytes))
    assert abs(payload_bits - model_bits) <= 0.01 * model_bits, (payload_bits, model_bits)
    assert 8 * len(data) - payload_bits == 8 * (bitstream._FIXED.size + 2 + 4)


def test_grayscale_and_rgba_inputs(codec):
    gray = _image(40, 70, channels=1)[..., 0]
    out = codec.decompress(codec.compress(gray))
    assert out.shape == (40, 70, 3)
    np.testing.assert_array_equal(codec.latents(gray),
                                  codec.latents(np.repeat(gray[..., None], 3, -1)))
    rgba = np.concatenate([_image(30, 30), np.full((30, 30, 1), 7, np.uint8)], -1)
    with pytest.warns(UserWarning, match="alpha"):
        data = codec.compress(rgba)
    assert codec.decompress(data).shape == (30, 30, 3)


def test_bad_images_are_refused(codec):
    for bad in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4, 2), np.uint8),
                np.zeros((4, 4, 3), np.float32)):
        with pytest.raises(ValueError):
            codec.compress(bad)


def test_batch_form(codec):
    images = [_image(64, 64, 1), _image(40, 90, 2), _image(64, 64, 3)]
    files = codec.compress_batch(images)
    outs = codec.decompress_batch(files)
    for image, data, out in zip(images, files, outs):
        assert out.shape == image.shape
        np.testing.assert_array_equal(codec.decode_latents(data), codec.latents(image))


def test_escapes_for_any_latent_magnitude(codec):
    rng = np.random.default_rng(0)
    n = codec.config.latent_channels
    y_hat = rng.integers(-3, 4, (3, 5, n)).astype(np.int64)
    y_hat[0, 0, 0] = 1000
    y_hat[2, 4, 1] = -70_000
    y_hat[1, 2, 2] = 64
    phi = _phi(rng, (3, 5, 2 * n))
    header = bitstream.Header(codec.model_id, 48, 80, n, 64, True, np.any(y_hat != 0, (0, 1)))
    data = codec._encode_y(header, phi, y_hat)
    np.testing.assert_array_equal(codec._decode_y(header, phi, data), y_hat)
    # z escapes: values far outside the tables
    v = rng.integers(-2, 3, (1, 2, n)).astype(np.int64)
    v[0, 0, 0], v[0, 1, 3] = 5000, -123_456
    np.testing.assert_array_equal(codec._decode_z(codec._encode_z(v), v.shape), v)


def _phi(rng, shape):
    """A random integer-valued phi (the integer h_s's output format)."""
    return rng.integers(-2**14, 2**14, shape).astype(np.float64)


def test_all_zero_latent_codes_no_symbols(codec):
    n = codec.config.latent_channels
    header = bitstream.Header(codec.model_id, 16, 16, n, 1, False, np.zeros(n, bool))
    phi = np.zeros((1, 1, 2 * n))
    data = codec._encode_y(header, phi, np.zeros((1, 1, n), np.int64))
    assert len(data) <= 4
    assert not codec._decode_y(header, phi, data).any()


def test_wrong_weights_are_refused(codec, other_codec):
    data = codec.compress(_image(64, 64))
    with pytest.raises(BitstreamError, match="other|written by model"):
        other_codec.decompress(data)


def test_save_load_roundtrip(tmp_path, codec):
    path = tmp_path / "w.npz"
    codec.save(path, extra={"note": "test"})
    loaded = Codec.load(path)
    assert loaded.model_id == codec.model_id and loaded.config == codec.config
    data = codec.compress(_image(64, 64))
    np.testing.assert_array_equal(loaded.decode_latents(data), codec.decode_latents(data))
    half = tmp_path / "h.npz"
    codec.save(half, half_precision=True)
    parameters = sum(np.size(v) for v in jax.tree_util.tree_leaves(codec.params))
    assert path.stat().st_size - half.stat().st_size > 1.9 * parameters  # 2 bytes each
    half_codec = Codec.load(half)
    assert half_codec.model_id != codec.model_id
    img = _image(64, 64)
    assert half_codec.decompress(half_codec.compress(img)).shape == img.shape


def test_weights_for_another_configuration_are_refused(tmp_path, codec):
    path = tmp_path / "w.npz"
    codec.save(path)
    with pytest.raises(WeightsError, match="not for the requested"):
        Codec.load(path, config=ModelConfig.n128())
    broken = tmp_path / "broken.npz"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsError):
        Codec.load(broken)
    with pytest.raises(WeightsError):
        Codec.load(tmp_path / "missing.npz")


def test_fuzzed_files_fail_cleanly(codec):
    """>= 500 truncations and byte flips: each ends in BitstreamError or a valid image."""
    image = _image(48, 80, seed=5)
    data = codec.compress(image)
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "image": 0}

    def check(blob):
        start = time.perf_counter()
        try:
            out = codec.decompress(blob)
        except BitstreamError:
            outcomes["error"] += 1
        else:
            assert out.shape == image.shape and out.dtype == np.uint8
            outcomes["image"] += 1
        assert time.perf_counter() - start < 10

    for _ in range(200):
        check(data[: rng.integers(0, len(data))])
    for _ in range(200):
        blob = bytearray(data)
        for i in rng.integers(0, len(blob), rng.integers(1, 4)):
            blob[i] ^= int(rng.integers(1, 256))
        check(bytes(blob))
    # flips behind a recomputed checksum exercise the decoder itself
    body_start = bitstream._FIXED.size + (codec.config.latent_channels + 7) // 8
    for _ in range(150):
        body = bytearray(data[:-4])
        for i in rng.integers(body_start, len(body), rng.integers(1, 4)):
            body[i] ^= int(rng.integers(1, 256))
        check(bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little"))
    check(b"")
    check(b"JLIC")
    assert sum(outcomes.values()) == 552


@pytest.fixture(scope="module")
def sharp_codec(tiny_config, tiny_params):
    """A codec whose head predicts, whatever the context, a narrow Gaussian at a
    different mean for each channel (``SHARP_MEANS``)."""
    params = jax.tree_util.tree_map(np.array, tiny_params)
    head = params["entropy_parameters"]
    head["Dense_1"]["kernel"][:] = 0.0
    head["Dense_1"]["bias"][:] = 0.0
    head["Dense_1"]["bias"][0] = 1.0  # the second hidden layer is the constant e_0
    out = head["Dense_2"]["kernel"]
    out[:] = 0.0
    n = tiny_config.latent_channels
    for k in range(tiny_config.mixture_components):
        out[0, (3 * k + 1) * n: (3 * k + 2) * n] = SHARP_MEANS
        out[0, (3 * k + 2) * n: (3 * k + 3) * n] = 0.4
    return Codec(tiny_config, params)


SHARP_MEANS = np.array([3, -2, 1, 4, -1, 2, -3, 1, -4, 2, 3, -2, 4, -1, 1, -3], np.float32)


@pytest.mark.parametrize("channels", [[1, 4, 5, 9, 13], list(range(12)),
                                      [0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 15]])
def test_skipped_channels_are_coded_with_their_own_tables(sharp_codec, channels):
    """Some channels skipped (also when the coded count rounds up to N): each coded
    channel is coded with its own table, so the payload costs exactly what those tables
    say (a channel coded with another one's table would cost about 20 bits a symbol)."""
    codec = sharp_codec
    rng = np.random.default_rng(1)
    n = codec.config.latent_channels
    y_hat = np.zeros((4, 6, n), np.int64)
    y_hat[..., channels] = SHARP_MEANS[channels].astype(np.int64)
    y_hat[rng.random(y_hat.shape) < 0.1] = 0
    coded = np.any(y_hat != 0, (0, 1))
    phi = _phi(rng, (4, 6, 2 * n))
    header = bitstream.Header(codec.model_id, 64, 96, n, 8, False, coded)
    data = codec._encode_y(header, phi, y_hat)
    np.testing.assert_array_equal(codec._decode_y(header, phi, data), y_hat)
    # Ideal cost with every channel's own table (all channels evaluated at once).
    taps = TapGatherer(4, 6, n)
    rows, cols = np.indices((4, 6)).reshape(2, -1)
    taps.write(rows, cols, y_hat[rows, cols])
    head = codec.exact.head
    raw = head.raw(taps.taps(rows, cols), head.phi_products(phi[rows, cols]), head.out)
    freqs = np.asarray(frequencies(jnp.asarray(raw), codec._mixture_tables, 3, 8))[:, coded]
    ideal = _coder_bits(freqs, y_hat[rows, cols][:, coded] + 8)
    assert ideal - 32 <= 8 * len(data) <= ideal + 64, (8 * len(data), ideal)


def _coder_bits(freqs: np.ndarray, symbols: np.ndarray) -> float:
    """Information content of ``symbols`` under the range coder's own fixed-point version
    of the tables ``freqs [..., A]`` (constriction's fast quantisation to 2**24, float32)."""
    f = freqs.astype(np.float32)
    size = f.shape[-1]
    scale = np.float32(2**24 - size) / f.sum(-1, keepdims=True, dtype=np.float32)
    before = np.cumsum(f, -1, dtype=np.float32) - f
    left = np.floor(before * scale) + np.arange(size)
    width = np.diff(np.concatenate([left, np.full(left.shape[:-1] + (1,), 2.0**24)], -1), axis=-1)
    return float(-np.log2(np.take_along_axis(width, symbols[..., None], -1) / 2.0**24).sum())


def test_latent_checksum_catches_a_wrong_decode(codec):
    header, z_bytes, y_bytes = bitstream.unpack(codec.compress(_image(64, 64)))
    bad = bitstream.pack(dataclasses.replace(header, latent_crc=header.latent_crc ^ 1), z_bytes,
                         y_bytes)
    with pytest.raises(BitstreamError, match="latent checksum"):
        codec.decompress(bad)


def test_latent_wider_than_the_transforms_roundtrip():
    """M = 24 latent channels over N = 16: y, phi and the gains have M channels, z has N;
    files decode to the encoder's latents at any quality."""
    config = ModelConfig(latent_channels=24, transform_channels=16, ep_hidden=48, rate_levels=2)
    wide = Codec.random(config, seed=0)
    image = _image(70, 90)
    for quality in (1, 1.5):
        data = wide.compress(image, quality=quality)
        assert bitstream.unpack(data)[0].channels == 24
        np.testing.assert_array_equal(wide.decode_latents(data), wide.latents(image, quality))
        assert wide.decompress(data).shape == image.shape

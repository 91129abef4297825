"""Coding building blocks: integer tables, range coder escapes, wavefronts, container."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic.coding import BitstreamError, bitstream
from jaxlic.coding.range_coder import MAX_ESCAPE, Decoder, Encoder
from jaxlic.coding.tables import PRECISION, build_z_tables, quantize_pmf
from jaxlic.coding.wavefront import wavefronts
from jaxlic.layers import causal_offsets


def test_quantize_pmf_is_exact_and_positive():
    rng = np.random.default_rng(0)
    pmf = rng.dirichlet(np.ones(9) * 0.05, size=200).astype(np.float32)
    pmf[0] = np.nan
    pmf[1] = 0.0
    pmf[2, 3] = -1.0
    for anchor in (None, 4):
        f = np.asarray(quantize_pmf(jnp.asarray(pmf), anchor=anchor))
        assert f.dtype == np.int32
        assert np.all(f >= 1)
        assert np.all(f.sum(-1) == 1 << PRECISION)


def test_unbounded_escape_roundtrip():
    values = np.array([0, 1, 2, 65534, 65535, 65536, 2**24 + 3, MAX_ESCAPE, 5])
    enc = Encoder()
    table = np.array([[1, 2, 3]] * 2)
    enc.encode(np.array([2, 0]), table)
    enc.encode_unbounded(values)
    enc.encode(np.array([1, 1]), table)
    dec = Decoder(enc.to_bytes())
    np.testing.assert_array_equal(dec.decode(table), [2, 0])
    np.testing.assert_array_equal(dec.decode_unbounded(len(values)), values)
    np.testing.assert_array_equal(dec.decode(table), [1, 1])
    with pytest.raises(ValueError):
        Encoder().encode_unbounded(np.array([MAX_ESCAPE + 1]))


@pytest.mark.parametrize("h, w", [(1, 1), (1, 7), (5, 1), (32, 48), (48, 32), (7, 13)])
def test_wavefronts_cover_each_position_once_after_its_context(h, w):
    s = wavefronts(h, w)
    assert s.steps == 3 * (h - 1) + w
    step_of = -np.ones((h, w), int)
    for t in range(s.steps):
        rows, cols = s.positions(t)
        assert np.all(step_of[rows, cols] == -1) and np.all(np.diff(rows) > 0)
        step_of[rows, cols] = t
    assert np.all(step_of >= 0)
    rows, cols = s.span(1, s.steps)
    np.testing.assert_array_equal(step_of[rows, cols],
                                  np.repeat(np.arange(1, s.steps), s.counts[1:]))
    for r in range(h):
        for c in range(w):
            for dr, dc in causal_offsets():
                if 0 <= r + dr < h and 0 <= c + dc < w:
                    assert step_of[r + dr, c + dc] < step_of[r, c]


def test_kodak_needs_141_steps():
    assert wavefronts(512 // 16, 768 // 16).steps == 141


def test_z_tables_are_valid(tiny_params):
    t = build_z_tables(tiny_params["entropy_bottleneck"])
    assert np.all(t.frequencies >= 1) and np.all(t.frequencies.sum(1) == 1 << PRECISION)
    assert np.all(t.offsets <= 0) and np.all(t.lengths >= 1)
    assert np.all(t.lengths <= t.frequencies.shape[1] - 1)
    again = build_z_tables(tiny_params["entropy_bottleneck"])
    np.testing.assert_array_equal(t.frequencies, again.frequencies)


def _header(**kw):
    fields = dict(model_id=b"12345678", height=70, width=33, channels=12, radius=4,
                  escapes=True, coded=np.arange(12) % 3 == 0, quality=0, latent_crc=0xDEADBEEF)
    fields.update(kw)
    return bitstream.Header(**fields)


def test_container_roundtrip_and_validation():
    data = bitstream.pack(_header(), b"zzzz", b"yyyyyyyy")
    header, z, y = bitstream.unpack(data)
    assert (header.height, header.width, header.channels, header.radius) == (70, 33, 12, 4)
    assert header.escapes and z == b"zzzz" and y == b"yyyyyyyy"
    assert header.latent_crc == 0xDEADBEEF
    np.testing.assert_array_equal(header.coded, np.arange(12) % 3 == 0)
    with pytest.raises(BitstreamError, match="magic"):
        bitstream.unpack(b"PNG" + data[3:])
    with pytest.raises(BitstreamError, match="truncated"):
        bitstream.unpack(data[:-1])
    with pytest.raises(BitstreamError, match="checksum"):
        bitstream.unpack(data[:-6] + bytes([data[-6] ^ 1]) + data[-5:])
    for version, why in ((2, "float32"), (9, "newer")):
        bad_version = bytearray(data)
        bad_version[4] = version
        with pytest.raises(BitstreamError, match=f"version {version}.*{why}"):
            bitstream.unpack(bytes(bad_version))
    huge = bitstream.pack(_header(height=60000, width=60000), b"", b"")
    with pytest.raises(BitstreamError, match="out of range"):
        bitstream.unpack(huge)

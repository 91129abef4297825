"""Files from strangers: decompression bombs, streams that end early or carry extra
bytes, and failures inside the decoder all end in ``BitstreamError``, fast."""

import dataclasses
import time

import numpy as np
import pytest

from jaxlic import BitstreamError, Codec
from jaxlic.coding import bitstream
from jaxlic.coding.range_coder import Encoder


@pytest.fixture(scope="module")
def codec(tiny_config, tiny_params):
    return Codec(tiny_config, tiny_params)


@pytest.fixture(scope="module")
def sample(codec):
    """A valid file of a 48x80 image and its parts."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 80, 3)).astype(np.uint8)
    data = codec.compress(image)
    return data, *bitstream.unpack(data)


def _refused_quickly(codec, data, match, seconds=5.0, **kwargs):
    start = time.perf_counter()
    with pytest.raises(BitstreamError, match=match):
        codec.decompress(data, **kwargs)
    assert time.perf_counter() - start < seconds


@pytest.mark.parametrize("height, width", [(16384, 16384), (65535, 65535), (8192, 16384)])
def test_declared_size_over_the_limit_is_refused_before_decoding(codec, sample, height,
                                                                  width):
    _, header, z_bytes, y_bytes = sample
    for z, y in ((z_bytes, y_bytes), (b"", b"")):  # 37 to 49 byte bombs included
        bomb = bitstream.pack(dataclasses.replace(header, height=height, width=width), z, y)
        match = "limit|out of range"  # the format itself stops at 2**28 pixels
        _refused_quickly(codec, bomb, match, seconds=1.0)


def test_pixel_limit_is_set_by_the_caller(codec, sample):
    data = sample[0]
    _refused_quickly(codec, data, "more than the limit of 1,000", max_pixels=1000)
    assert codec.decompress(data, max_pixels=48 * 80).shape == (48, 80, 3)


def test_empty_streams_of_a_large_image_fail_fast(codec, sample):
    """A 4096x4096 declaration (under the default limit) with empty or short streams."""
    _, header, z_bytes, y_bytes = sample
    large = dataclasses.replace(header, height=4096, width=4096)
    for z, y in ((b"", b""), (z_bytes, y_bytes), (z_bytes[:4], b"")):
        bomb = bitstream.pack(large, z, y)
        _refused_quickly(codec, bomb, "stream|corrupt|truncated|decoding failed")


def test_valid_z_with_empty_y_fails_fast(codec, sample):
    """The z stream of a real 2048x2048 latent decodes; the empty y stream must be caught
    while decoding, not after the 16 k positions of the image."""
    _, header, _, _ = sample
    n = codec.config.latent_channels
    channel, freqs = codec._z_tables_of((32, 32, n))
    encoder = Encoder()
    encoder.encode(-codec.z_tables.offsets[channel], freqs)  # z^ at the medians
    z_bytes = encoder.to_bytes()
    everything = dataclasses.replace(header, height=2048, width=2048, coded=np.ones(n, bool))
    bomb = bitstream.pack(everything, z_bytes, b"")
    _refused_quickly(codec, bomb, "ends before its last symbol")


@pytest.mark.parametrize("stream", ["z", "y"])
def test_left_over_words_are_refused(codec, sample, stream):
    _, header, z_bytes, y_bytes = sample
    extra = b"\x00\x00\x00\x00"
    z, y = (z_bytes + extra, y_bytes) if stream == "z" else (z_bytes, y_bytes + extra)
    _refused_quickly(codec, bitstream.pack(header, z, y), "left over")


def test_truncated_streams_are_refused(codec, sample):
    _, header, z_bytes, y_bytes = sample
    for z, y in ((z_bytes[:-4], y_bytes), (z_bytes, y_bytes[:-4]), (z_bytes, y_bytes[:4])):
        broken = bitstream.pack(header, z, y)
        _refused_quickly(codec, broken, "stream|corrupt|truncated|decoding failed")


@pytest.mark.parametrize("failure", [MemoryError(), RuntimeError("RESOURCE_EXHAUSTED: 137 GB")])
def test_failures_inside_the_decoder_become_bitstream_errors(codec, sample, monkeypatch,
                                                            failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(codec._transforms, "synthesis", fail)
    with pytest.raises(BitstreamError, match="memory|RESOURCE_EXHAUSTED") as info:
        codec.decompress(sample[0])
    assert info.value.__cause__ is failure

"""Streaming the transforms in row stripes: equal to the whole-image transforms, every
declared receptive radius needed, plans that depend on the size only, and the codec's
path for large images."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlic import AsymmetricModel, Codec, ModelConfig
from jaxlic.coding import stripes
from jaxlic.coding.transforms import pointwise_as_matmul
from jaxlic.layers.reach import Reach
from jaxlic.models import init_params
from jaxlic.models.asymmetric import STAGE_COUNTS, stage_reaches

SHAPES = {"analysis": (1, 256, 128, 3), "hyper_analysis": (1, 28, 12, 16),
          "synthesis": (1, 21, 7, 16)}
CHUNK_ROWS = {"analysis": (3,), "hyper_analysis": (1, 5), "synthesis": (1, 5)}


@pytest.fixture(scope="module")
def perturbed(tiny_config):
    """Tiny-model parameters with noise added, so that every layer mixes its inputs (the
    initial g_s output is constant)."""
    params = init_params(tiny_config, jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    return jax.tree_util.tree_map(
        lambda a: a + 0.05 * rng.normal(size=a.shape).astype(np.float32), params)


def _staged(config, name, reaches=None):
    model = AsymmetricModel(config)
    return stripes.StagedTransform(
        lambda p, x, i: model.apply({"params": p}, x, name, i, method=AsymmetricModel.stage),
        reaches or stage_reaches(config, name))


def _whole(config, params, name, x):
    method = getattr(AsymmetricModel, name)
    return np.asarray(AsymmetricModel(config).apply({"params": params}, x, method=method))[0]


def _streamed(staged, params, x, base):
    """The stages over ``x`` with ``base`` output rows per chunk (times the up-scaling)."""
    rows = [base * max(int(r.scale), 1) for r in staged.reaches]
    stream = staged.stream(params, lambda first, stop: jnp.asarray(x[:, first:stop]),
                           x.shape[1], rows)
    out, firsts = [], []

    def sink(first, block):
        firsts.append(first)
        out.append(block)

    fractions = []
    stripes.run(stream, sink, fractions.append)
    assert firsts == [j * rows[-1] for j in range(stream.chunks)]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    return np.concatenate(out)


@pytest.mark.parametrize("name", sorted(STAGE_COUNTS))
def test_streamed_equals_whole(tiny_config, perturbed, name):
    x = np.random.default_rng(1).uniform(0, 1, SHAPES[name]).astype(np.float32)
    whole = _whole(tiny_config, perturbed, name, x)
    staged = _staged(tiny_config, name)
    for base in CHUNK_ROWS[name]:
        np.testing.assert_allclose(_streamed(staged, perturbed, x, base), whole, rtol=1e-5,
                                   atol=1e-5 * np.abs(whole).max())


@pytest.mark.parametrize("name", ["analysis", "synthesis"])
def test_pointwise_matmul_equals_convolutions(tiny_config, perturbed, name):
    x = np.random.default_rng(1).uniform(size=SHAPES[name]).astype(np.float32)
    with nn.intercept_methods(pointwise_as_matmul):
        fast = _whole(tiny_config, perturbed, name, x)
    np.testing.assert_allclose(fast, _whole(tiny_config, perturbed, name, x), rtol=1e-4,
                               atol=1e-4)


def test_every_declared_radius_is_needed(tiny_config, perturbed):
    """Each synthesis stage streamed alone with its radius one smaller no longer matches:
    the declared reaches are tight, and the equality test above can fail."""
    model = AsymmetricModel(tiny_config)
    x = np.random.default_rng(2).uniform(0, 1, SHAPES["synthesis"]).astype(np.float32)
    for k, reach in enumerate(stage_reaches(tiny_config, "synthesis")):
        def stage(p, h, index, k=k):
            return model.apply({"params": p}, h, "synthesis", k, method=AsymmetricModel.stage)

        whole = np.asarray(jax.jit(stage, static_argnums=2)(perturbed, x, 0))[0]
        staged = stripes.StagedTransform(stage, [Reach(reach.scale, reach.radius - 1)])
        out = _streamed(staged, perturbed, x, 2)
        assert np.abs(out - whole).max() > 1e-3 * np.abs(whole).max(), k
        x = whole[None]


def _check_rows(reaches, rows, width):
    """Every stage's halo is at most HALO_SHARE of its window, and a stage gets more rows
    than that bound asks for only within the position budget of its output and (after
    the first stage) its input window (up to rounding)."""
    scale = 1
    for index, (reach, count) in enumerate(zip(reaches, rows)):
        scale *= reach.scale
        halo, step = 2 * stripes._halo(reach), max(int(reach.scale), 1)
        assert halo <= stripes.HALO_SHARE * (count / reach.scale + halo)
        if halo <= stripes.HALO_SHARE * ((count - step) / reach.scale + halo):
            assert (count - step) * width * scale < stripes.STAGE_POSITIONS
            if index:
                assert (count - step) * width * scale / reach.scale**2 < stripes.STAGE_POSITIONS


def _kept_positions(reaches, height, width):
    """Most positions the stages of a stream over ``height x width`` hold at once: their
    kept chunks and the window in hand (stand-in programs output zeros of the right
    shapes)."""
    most = 0

    def stand_in(reach):
        def program(window, start, extent):
            nonlocal most
            held = sum(c.size for s in stream._stages for c in s.chunks.values())
            most = max(most, held + window.size)
            rows = int((window.shape[1] - 2 * stripes._halo(reach)) * reach.scale)
            return jnp.zeros((1, rows, int(window.shape[2] * reach.scale), 1))
        return program, program

    stream = stripes.Stream([stand_in(r) for r in reaches], reaches,
                            stripes.plan(reaches, height, width),
                            lambda first, stop: jnp.zeros((1, stop - first, width, 1)), height)
    stripes.run(stream, lambda first, block: None)
    return most


def test_stripes_hold_bounded_rows_for_any_height():
    """What the stages of the N=128 analysis hold at once (windows and kept chunks)
    stays bounded as the image gets taller. Before the input windows were budgeted, a
    down-sampling stage whose window took all of a tall image's rows made its
    predecessors hold them: 4.5M positions at 6016x4032 (3.3 GiB at 24 MP) and 7.4M at
    6016x32768 (2^18 positions per chunk). With 2^17 they hold 2.0M and 2.2M (about
    1.1 GB of float32 at N = 128)."""
    reaches = stage_reaches(ModelConfig.preset("n128"), "analysis")
    photo, tall = (_kept_positions(reaches, height, 6016) for height in (4032, 32768))
    assert tall < 2_500_000 and tall < 1.4 * photo, (photo, tall)


def test_plan_depends_on_size_only_and_bounds_stripes(tiny_config):
    reaches = stage_reaches(tiny_config, "analysis")
    assert stripes.plan(reaches, 512, 768) is None  # Kodak: the whole image at once
    for height, width in ((4032, 6016), (8192, 1024), (1024, 65472)):
        rows = stripes.plan(reaches, height, width)
        assert rows == stripes.plan(reaches, height, width)
        _check_rows(reaches, rows, width)
    synthesis = stage_reaches(tiny_config, "synthesis")
    assert stripes.plan(synthesis, 32, 48) is None
    _check_rows(synthesis, stripes.plan(synthesis, 252, 376), 376)


def test_codec_streams_large_images_like_small_ones(tiny_config, perturbed, monkeypatch):
    """With the whole-image limit lowered, the codec streams all three transforms; the
    latents and the reconstruction match the whole-image path."""
    codec = Codec(tiny_config, perturbed)
    rng = np.random.default_rng(3)
    image = (rng.uniform(0, 255, (150, 130, 3))).astype(np.uint8)
    latents, data = codec.latents(image), codec.compress(image)
    pixels = codec.decompress(data)
    monkeypatch.setattr(stripes, "WHOLE_PIXELS", 64)
    monkeypatch.setattr(stripes, "STAGE_POSITIONS", 64 * 16)
    assert stripes.plan(stage_reaches(tiny_config, "hyper_analysis"), 12, 12) is not None
    streamed = codec.latents(image)
    assert np.mean(streamed != latents) < 1e-3  # float rounding may flip a rare tie
    timings, stages = {}, []
    out = codec.decompress(data, timings, progress=lambda stage, f: stages.append(stage))
    assert out.shape == image.shape
    assert np.abs(out.astype(int) - pixels).max() <= 1
    assert {"synthesis", "y_coding"} <= set(stages) and timings["synthesis"] > 0

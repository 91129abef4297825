"""The asymmetric learned image codec of Fu et al. 2022 (arXiv 2206.10618).

::

    x --g_a (3 MSRB)--> y --*--> y~ --h_a--> z --Q--> z^ --h_s--> phi
            \\-> t --importance map--> m --/       |                  |
    y~ --Q--> y^ --masked 5x5 ctx--> c --[c, phi]--> EP --> GMM(K=3) p(y^)
    y^ --PQF--> y' --g_s (1 MSRB)--> x^

y has M channels (``ModelConfig.latent_channels``); g_a, g_s, the hyperprior and z have
N (``ModelConfig.transform_width``; N = M in the paper).

A variable-rate model (``ModelConfig.rate_levels`` > 0) adds gain units (Cui et al.
2021): y~ and z are multiplied by per-channel gains of the quality level before
quantisation, and y^ and z^ by inverse gains after it (before g_s and h_s); the context
model and the GMM work on the gained, quantised latent.

Training uses additive uniform noise for Q (no straight-through estimator); coding uses
rounding, with z rounded about the learned medians. Entry points: ``analysis``,
``hyper_analysis``, ``hyper_synthesis``, ``mixture_at`` and ``synthesis``; the coder uses
``analysis``, ``hyper_analysis`` and ``synthesis`` in float and an integer version of
h_s, the context model and the entropy parameters (``jaxlic.coding.exact``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import flax.linen as nn

from jaxlic.entropy import factorized, gmm
from jaxlic.entropy.factorized import EntropyBottleneck
from jaxlic.entropy.gmm import EntropyParameters, Mixture, mixture_from_raw
from jaxlic.layers.conv import MaskedConv, PostQuantFilter
from jaxlic.layers.gain import GainUnit
from jaxlic.layers.reach import Reach, chain, conv_reach, parallel
from jaxlic.models.config import ModelConfig
from jaxlic.models.transforms import (
    AnalysisTransform,
    HyperAnalysis,
    HyperSynthesis,
    ImportanceMap,
    SynthesisTransform,
)
from jaxlic.ops.quantize import add_uniform_noise, round_about

ALIGNMENT = 64  # total down-sampling of the image to z


def check_image_size(height: int, width: int) -> None:
    """Raise ``ValueError`` unless both sides are positive multiples of 64."""
    if height <= 0 or width <= 0 or height % ALIGNMENT or width % ALIGNMENT:
        raise ValueError(
            f"image size {height}x{width} is not a multiple of {ALIGNMENT}; pad it first "
            "(jaxlic.Codec pads and crops automatically)")


class Gains(NamedTuple):
    """Per-example gain vectors of a variable-rate model: ``[B, M]`` for y, ``[B, N]`` for z."""

    y: jax.Array
    y_inverse: jax.Array
    z: jax.Array
    z_inverse: jax.Array


def apply_gain(x: jax.Array, gain: jax.Array | None) -> jax.Array:
    """``x [B, h, w, C] * gain [B, C]`` per channel; ``x`` itself when ``gain`` is None."""
    return x if gain is None else x * gain[:, None, None, :].astype(x.dtype)


class AsymmetricModel(nn.Module):
    """The whole model. ``dtype`` is the compute dtype of g_a, the importance map and g_s
    (e.g. bfloat16 for training); the hyperprior, context model, entropy parameters and
    all likelihoods always run in float32."""

    config: ModelConfig
    dtype: Any = jnp.float32

    def setup(self):
        cfg, n, m = self.config, self.config.transform_width, self.config.latent_channels
        self.g_a = AnalysisTransform(n, m, dtype=self.dtype)
        if cfg.importance_map:
            self.importance_map = ImportanceMap(m, dtype=self.dtype)
        self.h_a = HyperAnalysis(n)
        self.h_s = HyperSynthesis(n, m)
        self.context = MaskedConv(m, 2 * m, cfg.context_kernel)
        self.entropy_parameters = EntropyParameters(m, cfg.mixture_components, cfg.ep_hidden)
        self.entropy_bottleneck = EntropyBottleneck(n)
        if cfg.use_pqf:
            self.pqf = PostQuantFilter(dtype=self.dtype)
        self.g_s = SynthesisTransform(n, dtype=self.dtype)
        if cfg.variable_rate:
            self.gain_y = GainUnit(cfg.rate_levels, m)
            self.gain_z = GainUnit(cfg.rate_levels, n)

    # -- entry points ---------------------------------------------------------------

    def analysis(self, x: jax.Array) -> jax.Array:
        """Masked latent ``y~ = g_a(x) * m``: ``[B, H, W, 3] in [0, 1] -> [B, H/16, W/16, M]``."""
        check_image_size(x.shape[1], x.shape[2])
        return self._run_stages(x, "analysis")

    def gains(self, level: jax.Array) -> Gains:
        """Gain vectors at quality ``level [B]`` (float, 0 to ``rate_levels - 1``; fractional
        levels interpolate the neighbours exponentially). Variable-rate models only."""
        if not self.config.variable_rate:
            raise ValueError("this model has no gain units (ModelConfig.rate_levels == 0)")
        return Gains(*self.gain_y(level), *self.gain_z(level))

    def hyper_analysis(self, y_tilde: jax.Array) -> jax.Array:
        """``z = h_a(y~)``: ``[B, h, w, M] -> [B, h/4, w/4, N]``."""
        return self.h_a(y_tilde)

    def hyper_synthesis(self, z_hat: jax.Array) -> jax.Array:
        """``phi = h_s(z^)``: ``[B, h, w, N] -> [B, 4h, 4w, 2M]``."""
        return self.h_s(z_hat)

    def z_medians(self) -> jax.Array:
        """Per-channel medians of the factorised prior, ``[N]``."""
        return factorized.medians(self.entropy_bottleneck.density)

    def mixture(self, y_hat: jax.Array, phi: jax.Array) -> Mixture:
        """GMM parameters for a whole latent with the full masked convolution (training).

        ``y^ [B, h, w, M], phi [B, h, w, 2M] -> Mixture of [B, h, w, K, M]``.
        """
        ctx = self.context(y_hat)
        return self._mixture(jnp.concatenate([ctx, phi], axis=-1))

    def mixture_at(self, taps: jax.Array, phi: jax.Array) -> Mixture:
        """GMM parameters at P positions from their causal neighbours, in float.

        ``taps [P, T, M]`` (see ``MaskedConv.from_taps``), ``phi [P, 2M]`` ->
        ``Mixture`` of ``[P, K, M]``. The coder uses the integer version of this network
        (``jaxlic.coding.exact``), whose tables do not depend on the platform.
        """
        ctx = self.context.from_taps(taps)
        return self._mixture(jnp.concatenate([ctx, phi], axis=-1))

    def _mixture(self, features: jax.Array) -> Mixture:
        raw = self.entropy_parameters(features)
        return mixture_from_raw(raw, self.config.mixture_components, self.config.scale_bound)

    def filter_latent(self, y_hat: jax.Array) -> jax.Array:
        """PQF output ``y'`` (or ``y^`` itself when the filter is disabled). ``[B, h, w, M]``."""
        return self.pqf(y_hat.astype(self.dtype)) if self.config.use_pqf else y_hat

    def synthesis(self, y_hat: jax.Array) -> jax.Array:
        """``x^ = g_s(PQF(y^))``, ``[B, h, w, M] -> [B, 16h, 16w, 3]``, float32, not clipped."""
        return self._run_stages(y_hat, "synthesis")

    # -- stages, for streaming large images (jaxlic.coding.stripes) -------------------

    def stage(self, x: jax.Array, transform: str, index: int) -> jax.Array:
        """Stage ``index`` of ``transform`` (a key of ``STAGE_COUNTS``); the stages in
        order compose to ``analysis``, ``hyper_analysis`` or ``synthesis``, and
        ``stage_reaches`` gives the receptive reach of each. Analysis stages 0 to 6 are
        the layers of g_a up to ``t``; stage 7 maps ``t`` to ``g_a(x) * m``. Synthesis
        stage 0 is the PQF and the first layer of g_s; the others are one layer each."""
        last = index == STAGE_COUNTS[transform] - 1
        if transform == "hyper_analysis":
            return self.h_a(x)
        if transform == "analysis":
            trunk = AnalysisTransform.TRUNK
            if index == 0:
                x = x.astype(self.dtype)
            if index < trunk:
                return self.g_a(x, index, index + 1)
            y = self.g_a(x, trunk)
            if self.config.importance_map:
                y = y * self.importance_map(x)
            return y.astype(jnp.float32)
        if transform == "synthesis":
            if index == 0:
                x = self.filter_latent(x).astype(self.dtype)
            h = self.g_s(x, index, index + 1)
            return h.astype(jnp.float32) if last else h
        raise ValueError(f"unknown transform {transform!r}; choose from {sorted(STAGE_COUNTS)}")

    def _run_stages(self, x: jax.Array, transform: str) -> jax.Array:
        for index in range(STAGE_COUNTS[transform]):
            x = self.stage(x, transform, index)
        return x

    # -- training / estimation forward pass ------------------------------------------

    def __call__(self, x: jax.Array, train: bool = True,
                 example_ids: jax.Array | None = None,
                 level: jax.Array | None = None) -> dict[str, Any]:
        """Forward pass with the rate proxy.

        Args:
          x: ``[B, H, W, 3]`` images in [0, 1]; H and W multiples of 64.
          train: additive uniform noise (needs the ``"noise"`` RNG stream) when True;
            rounding (z about its medians) when False, for estimated rates.
          example_ids: optional ``[B]`` integer ids; when given, each example's noise
            depends only on the noise key and its id, so a batch split across devices
            sees the same noise as on one device.
          level: ``[B]`` quality levels (float, 0 to ``rate_levels - 1``) of a
            variable-rate model; required for one, refused for a fixed-rate model.

        Returns:
          ``x_hat [B, H, W, 3]``; ``likelihoods`` with ``y [B, H/16, W/16, M]`` and
          ``z [B, H/64, W/64, N]`` (bin masses, bounded below); ``pq_loss``, the mean
          squared error of the PQF output against y~ (gradient reaches the PQF only).
        """
        cfg = self.config
        if cfg.variable_rate != (level is not None):
            raise ValueError("a variable-rate model needs the quality level of each example, "
                             "and a fixed-rate model takes none")
        gains = self.gains(level) if cfg.variable_rate else Gains(None, None, None, None)
        y_tilde = apply_gain(self.analysis(x), gains.y)
        if train and cfg.clip_latent:
            y_tilde = jnp.clip(y_tilde, -255.0, 256.0)
        hyper_in = jax.lax.stop_gradient(y_tilde) if cfg.stop_gradient_hyper else y_tilde
        z = apply_gain(self.hyper_analysis(hyper_in), gains.z)
        if train:
            z_hat = add_uniform_noise(z, self.make_rng("noise"), example_ids)
            y_hat = add_uniform_noise(y_tilde, self.make_rng("noise"), example_ids)
        else:
            z_hat = round_about(z, self.z_medians())
            y_hat = round_about(y_tilde)
        z_likelihood = self.entropy_bottleneck(z_hat)
        phi = self.hyper_synthesis(apply_gain(z_hat, gains.z_inverse))
        y_likelihood = gmm.likelihood(y_hat, self.mixture(y_hat, phi))
        y_dequantized = apply_gain(y_hat, gains.y_inverse)
        x_hat = self.synthesis(y_dequantized)
        if cfg.use_pqf:
            filtered = self.filter_latent(jax.lax.stop_gradient(y_dequantized))
            target = jax.lax.stop_gradient(apply_gain(y_tilde, gains.y_inverse))
            pq_loss = jnp.mean(jnp.square(filtered.astype(jnp.float32) - target))
        else:
            pq_loss = jnp.zeros((), jnp.float32)
        return {
            "x_hat": x_hat,
            "likelihoods": {"y": y_likelihood, "z": z_likelihood},
            "pq_loss": pq_loss,
        }


STAGE_COUNTS = {"analysis": AnalysisTransform.TRUNK + 1, "hyper_analysis": 1,
                "synthesis": len(SynthesisTransform.REACHES)}


def stage_reaches(config: ModelConfig, transform: str) -> tuple[Reach, ...]:
    """Receptive reach of every stage of ``transform`` (see ``AsymmetricModel.stage``)."""
    if transform == "hyper_analysis":
        return (HyperAnalysis.REACH,)
    if transform == "analysis":
        trunk, reaches = AnalysisTransform.TRUNK, AnalysisTransform.REACHES
        head = chain(*reaches[trunk:])
        if config.importance_map:
            head = parallel(head, ImportanceMap.REACH)
        return reaches[:trunk] + (head,)
    if transform == "synthesis":
        first, *rest = SynthesisTransform.REACHES
        return (chain(conv_reach(3), first) if config.use_pqf else first, *rest)
    raise ValueError(f"unknown transform {transform!r}; choose from {sorted(STAGE_COUNTS)}")


def init_params(config: ModelConfig, rng: jax.Array) -> dict:
    """Initialise all parameters for ``config`` from a PRNG key.

    Shapes are inferred abstractly (``lazy_init``), so no forward pass is computed; the
    parameters do not depend on any image size. Returns the ``params`` collection.
    """
    return jax.device_get(_initializer(config)(rng)["params"])


def param_shapes(config: ModelConfig) -> dict:
    """``init_params``'s tree with ``jax.ShapeDtypeStruct`` leaves, computed abstractly
    (fast: nothing is initialised or copied)."""
    return jax.eval_shape(_initializer(config), jax.random.PRNGKey(0))["params"]


@functools.lru_cache(maxsize=8)
def _initializer(config: ModelConfig):
    """The jitted ``lazy_init`` of ``config``, compiled once per process (its host-callback
    initialisers keep it out of the persistent compilation cache)."""
    model = AsymmetricModel(config)
    x = jax.ShapeDtypeStruct((1, ALIGNMENT, ALIGNMENT, 3), jnp.float32)
    level = jnp.zeros((1,), jnp.float32) if config.variable_rate else None
    return jax.jit(lambda k: model.lazy_init({"params": k, "noise": k}, x, level=level))

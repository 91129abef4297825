"""Encoder-side latent refinement: one image's latents optimised for its own
rate-distortion cost, with the decoder and the file format unchanged.

g_a is amortised: trained to give good latents for every image, it leaves a gap on each
one (the amortisation gap of Cremer et al. 2018; for learned codecs Campos et al. 2019,
Yang et al. 2020). Refinement closes part of it at encoding time: Adam on the gained
latents ``y~`` and ``z`` of one image, for the training objective ``lambda * D + R`` with
a differentiable proxy for rounding (the training's uniform noise, or stochastic Gumbel
annealing, Yang et al. 2020: ``Refinement.proxy``), the rate decaying linearly to zero.
Every ``check_every`` steps the iterate
is scored with rounded latents (the estimated cost of the file it would give), and the
best-scoring one is returned, the encoder's own latents included: refinement never makes
that estimate worse. The decoder sees an ordinary file.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlic.coding.gains import HostGains
from jaxlic.entropy import gmm
from jaxlic.losses import rd_loss
from jaxlic.models import AsymmetricModel, ModelConfig
from jaxlic.models.asymmetric import apply_gain
from jaxlic.ops.quantize import gumbel_rounding, round_about

MAX_PIXELS = 1 << 20  # largest padded image refined (memory of the whole-image gradient)
PROXIES = ("noise", "sga")


@dataclasses.dataclass(frozen=True)
class Refinement:
    """How hard the encoder works on each image's latents.

    ``steps`` Adam steps, the rate decaying linearly from ``learning_rate`` (in units of
    the quantisation step) to zero, scored with rounded latents every ``check_every``
    steps and at the end. ``proxy`` stands in for rounding while optimising: ``"noise"``
    (uniform noise, as in training) or ``"sga"`` (``gumbel_rounding`` at a temperature
    annealed geometrically from ``temperature[0]`` to ``temperature[1]``). The random
    draws come from ``seed``, so the same image, weights and settings give the same file
    on the same machine.
    """

    steps: int = 100
    learning_rate: float = 0.02
    check_every: int = 10
    seed: int = 0
    proxy: str = "noise"
    temperature: tuple[float, float] = (0.5, 0.1)

    def __post_init__(self):
        if self.steps < 1 or self.check_every < 1 or not self.learning_rate > 0:
            raise ValueError(f"refinement needs steps >= 1, check_every >= 1 and a positive "
                             f"learning rate, got {self}")
        if self.proxy not in PROXIES:
            raise ValueError(f"refinement proxy must be one of {PROXIES}, got {self.proxy!r}")
        if np.shape(self.temperature) != (2,) or not all(t > 0 for t in self.temperature):
            raise ValueError(f"refinement temperature must be two positive numbers (start, "
                             f"end), got {self.temperature}")

    def schedule(self, i: int) -> tuple[float, float]:
        """Learning rate and temperature of step ``i`` (1 .. steps)."""
        progress = (i - 1) / self.steps
        start, end = self.temperature
        return (self.learning_rate * (1 - progress),
                start * (end / start) ** ((i - 1) / max(self.steps - 1, 1)))


def refine_latents(config: ModelConfig, params: Any, image: np.ndarray, size: tuple[int, int],
                   y_tilde: np.ndarray, z: np.ndarray, gains: HostGains | None, lmbda: float,
                   distortion: str, settings: Refinement,
                   report: Callable[[float], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Refined ``(y~ [h, w, M], z [h/4, w/4, N])`` (float32, after any gains) of one image.

    ``image`` is the padded uint8 image ``[H', W', 3]`` that g_a saw; only its first
    ``size = (height, width)`` pixels count in the distortion, while the rate counts the
    whole latent, as the file does. ``gains`` (None for a fixed-rate model) are those the
    file is coded with; ``report(fraction)`` hears the progress.
    Raises ``ValueError`` above ``MAX_PIXELS``.
    """
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ValueError(f"latent refinement works on images of up to {MAX_PIXELS} pixels "
                         f"(padded), this one has {image.shape[0] * image.shape[1]}")
    vectors = (None, None) if gains is None else tuple(
        jnp.asarray(g)[None] for g in (gains.y_inverse, gains.z_inverse))
    step, score = _programs(config, distortion, size, settings.proxy)
    x = jnp.asarray(image, jnp.float32)[None] / 255.0
    latents = (jnp.asarray(y_tilde)[None], jnp.asarray(z)[None])
    lmbda = jnp.float32(lmbda)
    opt_state = optax.adam(settings.learning_rate).init(latents)
    best, best_cost = latents, score(params, x, latents, vectors, lmbda)
    key = jax.random.PRNGKey(settings.seed)
    for i in range(1, settings.steps + 1):
        learning_rate, temperature = map(jnp.float32, settings.schedule(i))
        latents, opt_state = step(params, x, latents, opt_state, vectors, lmbda,
                                  learning_rate, jax.random.fold_in(key, i), temperature)
        if i % settings.check_every == 0 or i == settings.steps:
            cost = score(params, x, latents, vectors, lmbda)
            if cost < best_cost:
                best, best_cost = latents, cost
            if report is not None:
                report(i / settings.steps)
    return tuple(np.asarray(a[0], np.float32) for a in best)


@functools.lru_cache(maxsize=8)
def _programs(config: ModelConfig, distortion: str, size: tuple[int, int], proxy: str):
    """The jitted Adam step on the cost with ``proxy`` for rounding and the cost with
    rounded latents."""
    model = AsymmetricModel(config)

    def forward(m, latents, inverse, key, temperature):
        y, z = latents
        if key is None:
            y_hat, z_hat = round_about(y), round_about(z, m.z_medians())
        elif proxy == "sga":
            key_y, key_z = jax.random.split(key)
            y_hat = gumbel_rounding(y, key_y, temperature)
            z_hat = gumbel_rounding(z, key_z, temperature, m.z_medians())
        else:
            noise_y, noise_z = jax.random.split(key)
            y_hat = y + jax.random.uniform(noise_y, y.shape, minval=-0.5, maxval=0.5)
            z_hat = z + jax.random.uniform(noise_z, z.shape, minval=-0.5, maxval=0.5)
        y_inverse, z_inverse = inverse
        phi = m.hyper_synthesis(apply_gain(z_hat, z_inverse))
        likelihood_y = gmm.likelihood(y_hat, m.mixture(y_hat, phi))
        x_hat = m.synthesis(apply_gain(y_hat, y_inverse))
        return {"x_hat": jnp.clip(x_hat[:, : size[0], : size[1]], 0.0, 1.0),
                "likelihoods": {"y": likelihood_y, "z": m.entropy_bottleneck(z_hat)},
                "pq_loss": jnp.zeros((), jnp.float32)}

    def cost(params, x, latents, inverse, lmbda, key=None, temperature=None):
        outputs = model.apply({"params": params}, latents, inverse, key, temperature,
                              method=forward)
        return rd_loss(x[:, : size[0], : size[1]], outputs, lmbda, distortion)[0]

    def step(params, x, latents, opt_state, inverse, lmbda, learning_rate, key, temperature):
        grads = jax.grad(cost, argnums=2)(params, x, latents, inverse, lmbda, key, temperature)
        updates, opt_state = optax.adam(learning_rate).update(grads, opt_state)
        return optax.apply_updates(latents, updates), opt_state

    return jax.jit(step), jax.jit(cost)

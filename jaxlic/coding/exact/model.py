"""``ExactEntropyModel``: everything from z^ to the y coding tables, in integers.

Built from a model's float parameters by post-training quantisation when a codec is
created from parameters (and so when weights are saved); stored in the weights file and
read back from it, never re-derived at decode time.

The coder evaluates the head and the mixture in one XLA program per wavefront step
(``coding_tables``) in 64-bit mode on the CPU backend (``exact_xla``): the integer-valued
float64 arithmetic is exact in any evaluation order, so XLA's kernels, threads and flags
cannot change a result, and a GPU or TPU default backend is never used for it. The same
functions run on NumPy arrays (tests and one-off evaluations).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.coding.exact.head import IntHead
from jaxlic.coding.exact.hyper import IntHyperSynthesis, magnitudes
from jaxlic.coding.exact.linear import IntLinear
from jaxlic.coding.exact.mixture import (
    DeviceTables, MixtureGrid, MixtureTables, build_tables, frequencies)

PREFIX = "exact/"  # key prefix of the integer model's arrays in a weights file


def z_magnitude(params: dict) -> float:
    """Rough magnitude of h_s's input: the largest tail quantile of the hyper prior, times
    the largest inverse hyper gain of a variable-rate model."""
    quantiles = np.asarray(params["entropy_bottleneck"]["quantiles"], np.float64)
    gain = 1.0
    if "gain_z" in params:
        gain = float(np.exp(np.asarray(params["gain_z"]["log_inverse"], np.float64).max()))
    return float(np.abs(quantiles).max()) * gain


@dataclasses.dataclass(frozen=True)
class ExactEntropyModel:
    """Integer h_s, integer context model and head, and the mixture's integer tables."""

    hyper: IntHyperSynthesis
    head: IntHead
    tables: MixtureTables

    @classmethod
    def build(cls, params: dict, tables: MixtureTables | None = None) -> "ExactEntropyModel":
        """Quantise float ``params`` (as trained); ``tables`` default to those of the
        default ``MixtureGrid`` (they do not depend on the parameters)."""
        z = z_magnitude(params)
        head, phi_frac = IntHead.build(params["context"], params["entropy_parameters"],
                                       magnitudes(params["h_s"], z)[-1])
        return cls(IntHyperSynthesis.build(params["h_s"], z, phi_frac), head,
                   build_tables(MixtureGrid()) if tables is None else tables)

    def arrays(self) -> dict[str, np.ndarray]:
        """Integer arrays for the weights file, keys under ``PREFIX``."""
        return {**self.hyper.arrays(PREFIX + "hyper/"), **self.head.arrays(PREFIX + "head/"),
                **self.tables.arrays(PREFIX + "mixture/")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "ExactEntropyModel":
        """Inverse of ``arrays``; ``KeyError`` or ``ValueError`` for a broken set."""
        return cls(IntHyperSynthesis.from_arrays(arrays, PREFIX + "hyper/"),
                   IntHead.from_arrays(arrays, PREFIX + "head/"),
                   MixtureTables.from_arrays(arrays, PREFIX + "mixture/"))


@contextlib.contextmanager
def exact_xla() -> Iterator[None]:
    """64-bit mode with the CPU as default device: the context of every exact XLA call
    (and of moving its operands, so that float64 arrays stay float64)."""
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        yield


def to_device(tree: Any) -> Any:
    """A pytree of NumPy arrays as float64/int CPU device arrays."""
    with exact_xla():
        return jax.device_put(tree)


HYPER_POSITIONS = 1 << 11  # hyper-latent positions per program of the streamed h_s
HYPER_HALO = 3  # hyper-latent rows of context on each side of a band (h_s reaches 3 up, 2 down)


@functools.partial(jax.jit, static_argnames=("components", "radius"))
def coding_tables(head: IntHead, out: IntLinear, taps: jax.Array, phi: jax.Array,
                  tables: DeviceTables, components: int, radius: int) -> jax.Array:
    """Integer tables ``[P, n, 2R + 1]`` at P positions from their taps ``[P, 12M]`` and
    ``phi [P, 2M]``: ``IntHead.raw`` then ``frequencies``, one program. Call it inside
    ``exact_xla`` with operands from ``to_device``."""
    raw = head.raw(taps, head.phi_products(phi, jnp), out, jnp)
    return frequencies(raw, tables, components, radius)


@jax.jit
def _hyper_synthesis(hyper: IntHyperSynthesis, z: jax.Array) -> jax.Array:
    return hyper(z, jnp)


def hyper_synthesis(hyper: IntHyperSynthesis, z: np.ndarray) -> np.ndarray:
    """``IntHyperSynthesis`` of ``z [hz, wz, N]`` (float64), in XLA programs of about
    ``HYPER_POSITIONS`` positions: each runs on a band of rows with ``HYPER_HALO`` rows of
    context on both sides and keeps its own rows. The arithmetic is exact, so the bands
    give the whole-image result bit for bit, with memory bounded by the band. Call it
    inside ``exact_xla``; ``phi [4hz, 4wz, 2M]``."""
    height, width = z.shape[:2]
    rows = max(HYPER_POSITIONS // max(width, 1), 1)
    phi = np.empty((4 * height, 4 * width, hyper.layers[-1].bias.shape[0]), np.float64)
    for first in range(0, height, rows):
        stop = min(first + rows, height)
        low, high = max(first - HYPER_HALO, 0), min(stop + HYPER_HALO, height)
        band = np.asarray(_hyper_synthesis(hyper, z[low:high]))
        phi[4 * first: 4 * stop] = band[4 * (first - low): 4 * (stop - low)]
    return phi

"""``ExactEntropyModel``: everything from z^ to the y coding tables, in integers.

Built from a model's float parameters by post-training quantisation when a codec is
created from parameters (and so when weights are saved); stored in the weights file and
read back from it, never re-derived at decode time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlic.coding.exact.head import IntHead
from jaxlic.coding.exact.hyper import IntHyperSynthesis, magnitudes
from jaxlic.coding.exact.mixture import MixtureGrid, MixtureTables, build_tables

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

"""Quality levels of variable-rate models on the host: the file's quality code and the
gain vectors it selects.

A file stores the quality as an integer code (thousandths, ``1000`` = quality 1). The
gain vectors are computed from the weights with float64 additions and multiplications
only (``exp`` by range reduction and a fixed polynomial), which IEEE 754 rounds the same
way on every machine: the inverse hyper gain feeds h_s, so it must not depend on the
platform's ``exp``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

QUALITY_SCALE = 1000  # quality codes are thousandths of a quality step
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split for exact range reduction (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_EXP_TERMS = 18  # Taylor terms for |r| <= ln(2)/2: error below 1e-19, well under an ulp


class HostGains(NamedTuple):
    """float32 gain vectors of one quality, ``[M]`` for y and ``[N]`` for z (see
    ``jaxlic.models.Gains``)."""

    y: np.ndarray
    y_inverse: np.ndarray
    z: np.ndarray
    z_inverse: np.ndarray


def quality_code(quality: float, levels: int) -> int:
    """The integer stored in a file for ``quality`` in ``[1, levels]`` (rounded to 1/1000).

    Raises ``ValueError`` for a quality outside the model's scale.
    """
    q = float(quality)
    if not (math.isfinite(q) and 1.0 <= q <= levels):
        raise ValueError(f"quality must be between 1 and {levels}, got {quality!r}")
    return int(round(q * QUALITY_SCALE))


def exact_exp(x: np.ndarray) -> np.ndarray:
    """``exp(x)`` in float64 from basic arithmetic only, so bit-identical everywhere.

    ``x = k ln2 + r`` with ``|r| <= ln2 / 2``; ``exp(r)`` by a Horner-evaluated Taylor
    polynomial; ``ldexp`` by ``k`` is exact. Accurate to about one ulp for ``|x| < 700``.
    """
    x = np.asarray(x, np.float64)
    k = np.rint(x * _INV_LN2)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    poly = np.ones_like(r)
    for n in range(_EXP_TERMS, 0, -1):
        poly = 1.0 + poly * r / n
    return np.ldexp(poly, k.astype(np.int64))


def host_gains(params: dict, code: int) -> HostGains:
    """Gain vectors of quality code ``code`` from the ``gain_y`` / ``gain_z`` parameters.

    Interpolates the log-gains of the two neighbouring levels linearly (as the model does
    in training) and exponentiates with ``exact_exp``.
    """
    index, t = _neighbours(code, np.asarray(params["gain_y"]["log_gain"]).shape[0])

    def gain(table):
        table = np.asarray(table, np.float64)
        return exact_exp((1.0 - t) * table[index] + t * table[index + 1]).astype(np.float32)

    return HostGains(gain(params["gain_y"]["log_gain"]), gain(params["gain_y"]["log_inverse"]),
                     gain(params["gain_z"]["log_gain"]), gain(params["gain_z"]["log_inverse"]))


def quality_lmbda(code: int, lmbdas: tuple[float, ...]) -> float:
    """The rate-distortion lambda of quality code ``code`` for a model trained with one
    lambda per level: neighbouring levels' lambdas interpolated in the log domain, as the
    gains are."""
    index, t = _neighbours(code, len(lmbdas))
    return math.exp((1.0 - t) * math.log(lmbdas[index]) + t * math.log(lmbdas[index + 1]))


def _neighbours(code: int, levels: int) -> tuple[int, float]:
    """The lower neighbouring level of quality code ``code`` and the weight of the upper."""
    level = code / QUALITY_SCALE - 1.0
    index = min(int(math.floor(level)), levels - 2)
    return index, level - index

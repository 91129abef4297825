"""Bjontegaard delta rate and delta PSNR (VCEG-M33) with piecewise cubic interpolation.

As in the JCT-VC/JVET common-test-conditions spreadsheet and CompressAI's
``compute_bd_rate``: log-rate is interpolated over quality (BD-rate), or quality over
log-rate (BD-PSNR), with a shape-preserving piecewise cubic Hermite interpolant (PCHIP),
and the two curves are integrated exactly over the range where both are defined.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _clean(rate: ArrayLike, quality: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Finite points of one curve as float arrays; rates must be positive, >= 2 points."""
    rate, quality = np.asarray(rate, float), np.asarray(quality, float)
    if rate.shape != quality.shape or rate.ndim != 1:
        raise ValueError(f"rate and quality must be equal 1-D lists, got {rate.shape}, "
                         f"{quality.shape}")
    keep = np.isfinite(rate) & np.isfinite(quality)
    rate, quality = rate[keep], quality[keep]
    if len(rate) < 2:
        raise ValueError("a curve needs at least two finite points")
    if np.any(rate <= 0):
        raise ValueError("rates must be positive")
    return rate, quality


def _mean_gap(x_anchor: np.ndarray, y_anchor: np.ndarray,
              x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Mean of ``y_test(x) - y_anchor(x)`` over the overlap of the two x ranges (PCHIP)."""
    from scipy.interpolate import PchipInterpolator

    low, high = max(x_anchor.min(), x_test.min()), min(x_anchor.max(), x_test.max())
    if low >= high:
        raise ValueError(f"the curves do not overlap (x ranges [{x_anchor.min():.4g}, "
                         f"{x_anchor.max():.4g}] and [{x_test.min():.4g}, {x_test.max():.4g}])")
    areas = []
    for x, y in ((x_anchor, y_anchor), (x_test, y_test)):
        order = np.argsort(x)
        x, y = x[order], y[order]
        if np.any(np.diff(x) <= 0):
            raise ValueError("interpolation needs distinct points (repeated x)")
        areas.append(PchipInterpolator(x, y).integrate(low, high))
    return float((areas[1] - areas[0]) / (high - low))


def bd_rate(rate_anchor: ArrayLike, quality_anchor: ArrayLike,
            rate_test: ArrayLike, quality_test: ArrayLike) -> float:
    """Average rate difference of test against anchor at equal quality, in percent
    (negative: the test codec needs fewer bits). Rates in any common unit (bpp)."""
    rate_anchor, quality_anchor = _clean(rate_anchor, quality_anchor)
    rate_test, quality_test = _clean(rate_test, quality_test)
    gap = _mean_gap(quality_anchor, np.log(rate_anchor), quality_test, np.log(rate_test))
    return float(np.expm1(gap) * 100.0)


def bd_psnr(rate_anchor: ArrayLike, quality_anchor: ArrayLike,
            rate_test: ArrayLike, quality_test: ArrayLike) -> float:
    """Average quality difference of test against anchor at equal rate, in the quality's
    units (dB for PSNR; positive: the test codec is better)."""
    rate_anchor, quality_anchor = _clean(rate_anchor, quality_anchor)
    rate_test, quality_test = _clean(rate_test, quality_test)
    return _mean_gap(np.log(rate_anchor), quality_anchor, np.log(rate_test), quality_test)

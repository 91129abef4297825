"""Rate-distortion plots: PSNR-RGB or MS-SSIM (dB) against bpp, as PNG and SVG."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np

from jaxlic.eval.results import Curve

Y_LABELS = {"psnr": "PSNR-RGB [dB]", "ms-ssim": "MS-SSIM-RGB [dB]"}
MARKERS = "os^vD<>ph*"


def plot_rd(curves: Sequence[Curve], stem: str | pathlib.Path, metric: str = "psnr",
            title: str = "", max_bpp: float | None = None) -> list[pathlib.Path]:
    """Draw one R-D figure of ``metric`` over bpp and save ``stem``.png and ``stem``.svg.

    Curves without the metric are left out; ``max_bpp`` clips the x axis. Returns the two
    paths written. Raises ``ValueError`` for an unknown metric or when no curve has it.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    drawable = [(c, y) for c in curves if (y := c.quality(metric)) is not None]
    if not drawable:
        raise ValueError(f"none of the curves has {metric} values")
    figure = Figure(figsize=(7, 5), dpi=120)
    axes = figure.subplots()
    colours = colormaps["tab20"]
    for i, (curve, y) in enumerate(drawable):
        keep = np.isfinite(curve.bpp) & np.isfinite(y)
        if max_bpp is not None:
            keep &= curve.bpp <= max_bpp
        axes.plot(curve.bpp[keep], y[keep], marker=MARKERS[i % len(MARKERS)], markersize=4,
                  linewidth=1.2, label=curve.name, color=colours(i % 20))
    axes.set_xlabel("bits per pixel")
    axes.set_ylabel(Y_LABELS[metric])
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    stem = pathlib.Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / f"{stem.name}.{suffix}" for suffix in ("png", "svg")]
    for path in paths:
        figure.savefig(path)
    return paths

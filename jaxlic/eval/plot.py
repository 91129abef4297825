"""Rate-distortion plots: PSNR-RGB or MS-SSIM (dB) against bpp, as PNG and SVG."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np

from jaxlic.eval.results import Curve

Y_LABELS = {"psnr": "PSNR-RGB [dB]", "ms-ssim": "MS-SSIM-RGB [dB]"}
MARKERS = "os^vD<>ph*"


def plot_rd(curves: Sequence[Curve], stem: str | pathlib.Path, metric: str = "psnr",
            title: str = "", max_bpp: float | None = None,
            anchors: Sequence[Curve] = ()) -> list[pathlib.Path]:
    """Draw one R-D figure of ``metric`` over bpp and save ``stem``.png and ``stem``.svg.

    ``anchors`` (published reference curves) are drawn dashed with open markers after the
    solid ``curves``; curves without the metric are left out. ``max_bpp`` limits the rate
    axis (and the quality axis to what is then visible). Returns the two paths written.
    Raises ``ValueError`` for an unknown metric or when no curve has it.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    drawable = [(c, y, is_anchor) for group, is_anchor in ((curves, False), (anchors, True))
                for c in group if (y := c.quality(metric)) is not None]
    if not drawable:
        raise ValueError(f"none of the curves has {metric} values")
    figure = Figure(figsize=(7.5, 5.5), dpi=120)
    axes = figure.subplots()
    colours = colormaps["tab20"]  # the 10 dark shades first, then the light ones
    visible = []
    for i, (curve, y, anchor) in enumerate(drawable):
        keep = np.isfinite(curve.bpp) & np.isfinite(y)
        axes.plot(curve.bpp[keep], y[keep], marker=MARKERS[i % len(MARKERS)], markersize=4,
                  linewidth=1.2, linestyle="--" if anchor else "-", label=curve.name,
                  color=colours(2 * i % 20 + i // 10 % 2),
                  markerfacecolor="none" if anchor else None)
        visible.append(y[keep & (curve.bpp <= (max_bpp or np.inf))])
    if max_bpp is not None:
        axes.set_xlim(0.0, max_bpp)
        if (shown := np.concatenate(visible)).size:
            margin = 0.03 * (shown.max() - shown.min()) + 0.1
            axes.set_ylim(shown.min() - margin, shown.max() + margin)
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

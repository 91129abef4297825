"""Result files: CompressAI's results JSON (one R-D curve) and a per-image CSV.

The JSON holds ``name``, ``description`` and ``results``, a dict of equal-length lists, one
entry per setting, each a mean over the images: ``bpp``, ``psnr-rgb`` (dB), ``ms-ssim-rgb``
(0..1), ``ms-ssim-rgb-db`` (dB of the mean MS-SSIM, as CompressAI's plots convert),
``encoding_time`` and ``decoding_time`` (seconds per image), ``setting`` and ``images`` (the
count). ``skipped`` lists the files and (setting, image) pairs that were left out and why.
Non-finite numbers (lossless PSNR) are written as ``null``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import pathlib
from collections.abc import Sequence

import numpy as np

from jaxlic import metrics
from jaxlic.eval.distortion import ms_ssim_db
from jaxlic.eval.images import Skipped
from jaxlic.eval.runner import ImageResult, PointResult

QUALITY_METRICS = ("psnr", "ms-ssim")
CSV_COLUMNS = ("name", "setting") + tuple(f.name for f in dataclasses.fields(ImageResult))


@dataclasses.dataclass(frozen=True)
class Curve:
    """One R-D curve read from a results JSON; arrays are per setting, ``None`` if absent."""

    name: str
    bpp: np.ndarray
    psnr_rgb: np.ndarray | None
    ms_ssim_rgb: np.ndarray | None

    def quality(self, metric: str) -> np.ndarray | None:
        """PSNR-RGB (``psnr``) or MS-SSIM-RGB in dB (``ms-ssim``) per point, if present."""
        if metric not in QUALITY_METRICS:
            raise ValueError(f"metric must be one of {QUALITY_METRICS}, got {metric!r}")
        if metric == "psnr":
            return self.psnr_rgb
        if self.ms_ssim_rgb is None:
            return None
        return np.asarray(metrics.ms_ssim_db(self.ms_ssim_rgb))


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean, or ``None`` when there are no values or any is missing."""
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summarize(name: str, description: str, points: Sequence[PointResult],
              skipped: Sequence[Skipped] = ()) -> dict:
    """The CompressAI-format dict of one curve: dataset means per setting."""
    results: dict[str, list] = {key: [] for key in (
        "bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-rgb-db", "encoding_time", "decoding_time",
        "setting", "images")}
    for point in filter(lambda p: p.images, points):  # a setting with no image has no mean
        ms_ssim = _mean([r.ms_ssim_rgb for r in point.images])
        for key, value in (
                ("bpp", _mean([r.bpp for r in point.images])),
                ("psnr-rgb", _mean([r.psnr_rgb for r in point.images])),
                ("ms-ssim-rgb", ms_ssim), ("ms-ssim-rgb-db", ms_ssim_db(ms_ssim)),
                ("encoding_time", _mean([r.encoding_time for r in point.images])),
                ("decoding_time", _mean([r.decoding_time for r in point.images]))):
            results[key].append(_finite(value))
        results["setting"].append(point.setting)
        results["images"].append(len(point.images))
    left_out = [{"setting": None, "image": s.name, "reason": s.reason} for s in skipped]
    left_out += [{"setting": p.setting, "image": s.name, "reason": s.reason}
                 for p in points for s in p.failures]
    return {"name": name, "description": description, "results": results, "skipped": left_out}


def write_json(path: str | pathlib.Path, summary: dict) -> None:
    """Write a ``summarize`` dict as indented JSON, creating parent folders."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")


def write_csv(path: str | pathlib.Path, name: str, points: Sequence[PointResult]) -> None:
    """One row per (setting, image) with ``CSV_COLUMNS``; missing values are empty."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for point in points:
            for result in point.images:
                row = [name, point.setting, *dataclasses.astuple(result)]
                writer.writerow(["" if v is None else f"{v:.6g}" if isinstance(v, float) else v
                                 for v in row])


def expand_paths(inputs: Sequence[str | pathlib.Path]) -> list[pathlib.Path]:
    """Results files from a list of JSON files and folders (their ``*.json``, sorted).

    Raises ``ValueError`` for a path that does not exist or a folder without JSON files.
    """
    paths = []
    for item in map(pathlib.Path, inputs):
        if item.is_dir():
            found = sorted(item.glob("*.json"))
            if not found:
                raise ValueError(f"no .json results files in {item}")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise ValueError(f"{item} does not exist")
    return paths


def read_curve(path: str | pathlib.Path) -> Curve:
    """Read a CompressAI-format results JSON; points are sorted by rate.

    ``ms-ssim-rgb`` falls back to CompressAI's older ``ms-ssim`` key. Raises ``ValueError``
    when ``results`` has no ``bpp`` list.
    """
    data = json.loads(pathlib.Path(path).read_text())
    results = data.get("results", {})
    if not results.get("bpp"):
        raise ValueError(f"{path}: no results.bpp list (not a CompressAI results file?)")

    def column(*keys: str) -> np.ndarray | None:
        for key in keys:
            if results.get(key) is not None:
                return np.array([np.nan if v is None else v for v in results[key]], float)
        return None

    bpp = column("bpp")
    order = np.argsort(bpp)
    psnr, ms_ssim = column("psnr-rgb", "psnr"), column("ms-ssim-rgb", "ms-ssim")
    return Curve(name=data.get("name", pathlib.Path(path).stem), bpp=bpp[order],
                 psnr_rgb=None if psnr is None else psnr[order],
                 ms_ssim_rgb=None if ms_ssim is None else ms_ssim[order])

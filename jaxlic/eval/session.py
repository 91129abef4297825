"""One evaluation session: measure the settings of a curve over an image folder with a
progress bar, write ``<name>.json`` and ``<name>.csv``, and summarise on a text stream."""

from __future__ import annotations

import os
import pathlib
import platform
import sys
from collections.abc import Sequence
from typing import TextIO

from jaxlic.eval.images import EvalImage, Skipped
from jaxlic.eval.results import summarize, write_csv, write_json
from jaxlic.eval.runner import Setting, evaluate_settings


def machine() -> str:
    """The CPU model (``/proc/cpuinfo``, else ``platform``) and the logical CPU count."""
    model = platform.processor() or platform.machine()
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"


def run_curve(name: str, description: str, settings: Sequence[Setting], dataset: str,
              images: Sequence[EvalImage], skipped: Sequence[Skipped],
              output_dir: str | pathlib.Path, progress: bool = True) -> dict:
    """Evaluate ``settings`` over ``images`` and write the results JSON and per-image CSV
    into ``output_dir``; returns the JSON dict. The dataset name (``kodak``), image count
    and machine go into the description."""
    from tqdm import tqdm

    with tqdm(total=len(settings) * len(images), desc=name, unit="image", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        points = evaluate_settings(settings, images, on_image=bar.update)
    summary = summarize(name, f"{description}; {dataset}, {len(images)} images; measured on "
                        f"{machine()}",
                        points, skipped)
    output_dir = pathlib.Path(output_dir)
    write_json(output_dir / f"{name}.json", summary)
    write_csv(output_dir / f"{name}.csv", name, points)
    return summary


_COLUMNS = (("bpp", "bpp", ".4f"), ("psnr-rgb", "PSNR dB", ".2f"),
            ("ms-ssim-rgb", "MS-SSIM", ".4f"), ("ms-ssim-rgb-db", "dB", ".2f"),
            ("encoding_time", "enc s", ".3g"), ("decoding_time", "dec s", ".3g"),
            ("images", "images", "d"))


def print_summary(summary: dict, stream: TextIO | None = None) -> None:
    """A table of the dataset means per setting, then the (setting, image) failures, on
    ``stream`` (default: standard output)."""
    stream = stream or sys.stdout
    results = summary["results"]
    print(f"{summary['name']}: {summary['description']}", file=stream)
    print(f"  {'setting':<16}" + "".join(f"{title:>10}" for _, title, _ in _COLUMNS), file=stream)
    for i, setting in enumerate(results["setting"]):
        cells = ("-" if (v := results[key][i]) is None else format(v, spec)
                 for key, _, spec in _COLUMNS)
        print(f"  {setting:<16}" + "".join(f"{cell:>10}" for cell in cells), file=stream)
    failures = [entry for entry in summary["skipped"] if entry["setting"]]
    for entry in failures:
        print(f"  failed {entry['image']} at {entry['setting']}: {entry['reason']}", file=stream)
    if failures:
        print(f"  {len(failures)} failures", file=stream)


def print_skipped(skipped: Sequence[Skipped], stream: TextIO | None = None) -> None:
    """The image files that could not be read, and how many (default: standard output)."""
    stream = stream or sys.stdout
    for entry in skipped:
        print(f"skipped {entry.name}: {entry.reason}", file=stream)
    if skipped:
        print(f"{len(skipped)} unreadable files skipped", file=stream)

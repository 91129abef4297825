"""``jaxlic eval IMAGES WEIGHTS...``: R-D points of jaxlic weight files, real bitstreams."""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys

from jaxlic.cli.common import positive_int


def add_folder_arguments(p: argparse.ArgumentParser, stem: str) -> None:
    """The image folder, output folder and progress options (shared with bench-codecs)."""
    p.add_argument("images", help="folder of test images (PNG, JPEG, ...)")
    p.add_argument("-o", "--output-dir", default=".",
                   help=f"folder for {stem}.json and {stem}.csv (default: .)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="rate, PSNR, MS-SSIM and times of jaxlic weight files over a folder")
    add_folder_arguments(p, "<name>")
    p.add_argument("weights", nargs="+",
                   help="weights files: one R-D point each, or one per quality for a "
                        "variable-rate model")
    p.add_argument("--qualities", type=_qualities, metavar="Q1,Q2,...",
                   help="qualities of variable-rate models (default: 1, 2, ... up to the "
                        "model's number of levels)")
    p.add_argument("--refine", type=positive_int, metavar="STEPS",
                   help="optimise each image's latents for STEPS steps before coding "
                        "(see jaxlic compress --refine)")
    p.add_argument("--name", default="jaxlic", help="curve name, also the output file stem")
    p.add_argument("--description", default="jaxlic learned codec",
                   help="description written into the JSON")
    p.set_defaults(run=run)


def _qualities(text: str) -> list[float]:
    try:
        return [float(q) for q in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}")


def _settings(weights: str, qualities: list[float] | None, refine: int | None) -> list:
    """One ``Setting`` for a fixed-rate weights file, one per quality for a variable-rate
    one (the codec is loaded once and shared), with ``refine`` steps of latent refinement;
    a file that cannot be read becomes one setting whose codec fails, reported by the
    runner."""
    from jaxlic.coding import Codec, Refinement, weights as weights_io
    from jaxlic.eval.runner import AtQuality, Setting

    try:
        config = weights_io.read_config(weights)
    except weights_io.WeightsError:
        return [Setting(weights, functools.partial(Codec.load, weights))]
    load = functools.lru_cache(maxsize=1)(functools.partial(Codec.load, weights))
    refinement = Refinement(steps=refine) if refine else None
    suffix = f"+refine{refine}" if refine else ""
    if not config.rate_levels:
        return [Setting(weights + suffix, lambda: AtQuality(load(), None, refinement))]
    levels = qualities or range(1, config.rate_levels + 1)
    return [Setting(f"{weights}@q{q:g}{suffix}",
                    functools.partial(lambda q: AtQuality(load(), q, refinement), q))
            for q in levels]


def run(args: argparse.Namespace) -> int:
    from jaxlic.cli.common import enable_compile_cache
    from jaxlic.eval.images import load_images
    from jaxlic.eval.session import print_skipped, print_summary, run_curve

    missing = [w for w in args.weights if not pathlib.Path(w).is_file()]
    try:
        if missing:
            raise ValueError(f"no such weights file: {', '.join(missing)}")
        images, skipped = load_images(args.images)
    except ValueError as error:
        print(f"jaxlic eval: {error}", file=sys.stderr)
        return 2
    print_skipped(skipped)
    enable_compile_cache()
    settings = [setting for w in args.weights
                for setting in _settings(w, args.qualities, args.refine)]
    summary = run_curve(args.name, args.description, settings,
                        pathlib.Path(args.images).resolve().name, images, skipped,
                        args.output_dir, progress=not args.no_progress)
    print_summary(summary)
    return int(any(entry["setting"] for entry in summary["skipped"]))

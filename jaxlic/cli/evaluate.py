"""``jaxlic eval IMAGES WEIGHTS...``: R-D points of jaxlic weight files, real bitstreams."""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys


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
    p.add_argument("weights", nargs="+", help="weights files, one R-D point each")
    p.add_argument("--name", default="jaxlic", help="curve name, also the output file stem")
    p.add_argument("--description", default="jaxlic learned codec",
                   help="description written into the JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.cli.common import enable_compile_cache
    from jaxlic.coding import Codec
    from jaxlic.eval.images import load_images
    from jaxlic.eval.runner import Setting
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
    settings = [Setting(w, functools.partial(Codec.load, w)) for w in args.weights]
    summary = run_curve(args.name, args.description, settings,
                        pathlib.Path(args.images).resolve().name, images, skipped,
                        args.output_dir, progress=not args.no_progress)
    print_summary(summary)
    return int(any(entry["setting"] for entry in summary["skipped"]))

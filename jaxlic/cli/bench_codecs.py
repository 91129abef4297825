"""``jaxlic bench-codecs IMAGES``: R-D curves of the classical codecs installed here."""

from __future__ import annotations

import argparse
import pathlib
import sys

from jaxlic.cli.evaluate import add_folder_arguments

CODECS = ("jpeg", "webp", "jpeg2000", "avif", "jpegxl", "hevc")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-codecs", help="rate, PSNR, MS-SSIM and times of classical codecs over a folder")
    add_folder_arguments(p, "<codec>")
    p.add_argument("--codecs", nargs="+", default=list(CODECS), choices=CODECS, metavar="CODEC",
                   help=f"codecs to sweep (default: all of {', '.join(CODECS)})")
    p.add_argument("--values", type=lambda s: tuple(float(v) for v in s.split(",")),
                   help="comma-separated settings replacing the default sweep (one codec only)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.eval.classical import SWEEPS
    from jaxlic.eval.images import load_images
    from jaxlic.eval.session import print_skipped, print_summary, run_curve

    if args.values and len(args.codecs) != 1:
        print("jaxlic bench-codecs: --values needs exactly one codec (--codecs NAME)",
              file=sys.stderr)
        return 2
    try:
        images, skipped = load_images(args.images)
    except ValueError as error:
        print(f"jaxlic bench-codecs: {error}", file=sys.stderr)
        return 2
    print_skipped(skipped)
    dataset = pathlib.Path(args.images).resolve().name
    failed = False
    for name in args.codecs:
        sweep = SWEEPS[name]
        if note := sweep.missing():
            print(f"{name}: skipped, {note}")
            continue
        summary = run_curve(name, sweep.description, sweep.settings(args.values), dataset,
                            images, skipped, args.output_dir, progress=not args.no_progress)
        print_summary(summary)
        failed |= any(entry["setting"] for entry in summary["skipped"])
    return int(failed)

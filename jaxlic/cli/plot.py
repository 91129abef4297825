"""``jaxlic plot RESULTS... [--anchors REFS...] -o STEM``: R-D curves as PNG and SVG."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("plot", help="plot R-D curves (PSNR and MS-SSIM dB vs bpp)")
    p.add_argument("results", nargs="+",
                   help="CompressAI-format results JSONs, or folders of them")
    p.add_argument("--anchors", nargs="+", default=[],
                   help="reference curves (JSONs or folders), drawn dashed")
    p.add_argument("-o", "--output", default="rd",
                   help="output stem: writes STEM_psnr.png/.svg and STEM_ms-ssim.png/.svg")
    p.add_argument("--metric", nargs="+", default=["psnr", "ms-ssim"],
                   choices=["psnr", "ms-ssim"], help="which plots (default: both)")
    p.add_argument("--title", default="", help="figure title")
    p.add_argument("--max-bpp", type=float, help="clip the rate axis at this bpp")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.eval.plot import plot_rd
    from jaxlic.eval.results import expand_paths, read_curve

    try:
        curves = [read_curve(path) for path in expand_paths(args.results)]
        anchors = [read_curve(path) for path in expand_paths(args.anchors)]
    except ValueError as error:
        print(f"jaxlic plot: {error}", file=sys.stderr)
        return 2
    for metric in args.metric:
        try:
            paths = plot_rd(curves, f"{args.output}_{metric}", metric, args.title, args.max_bpp,
                            anchors)
        except ValueError as error:
            print(f"{metric}: no plot, {error}")
            continue
        print(f"{metric}: wrote {', '.join(map(str, paths))}")
    return 0

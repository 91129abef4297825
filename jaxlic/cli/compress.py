"""``jaxlic compress IN.png [OUT.jlic]``: write a compressed file."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from jaxlic.cli.common import add_file_command, enable_compile_cache, load_codec


def add_parser(subparsers) -> None:
    p = add_file_command(subparsers, "compress", "compress an image to a .jlic file",
                         "image file (PNG, JPEG, WebP, ...)",
                         "output file (default: INPUT with .jlic)", run)
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float,
                      help="1 (smallest files) to 8 (best), fractions allowed; variable-rate "
                           "models only (default 6)")
    rate.add_argument("--target-bpp", type=float, metavar="B",
                      help="the highest quality whose file takes at most B bits per pixel")


def run(args: argparse.Namespace) -> int:
    from jaxlic.coding import bitstream
    from jaxlic.coding.gains import QUALITY_SCALE
    from jaxlic.images import read_image

    enable_compile_cache()
    output = pathlib.Path(args.output or pathlib.Path(args.input).with_suffix(".jlic"))
    try:
        image = read_image(args.input)
        codec = load_codec(args)
    except (ValueError, LookupError) as e:
        print(f"jaxlic compress: {e}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        data = codec.compress(image, quality=args.quality, target_bpp=args.target_bpp)
    except ValueError as e:
        print(f"jaxlic compress: {e}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    output.write_bytes(data)
    h, w = image.shape[:2]
    quality = bitstream.unpack(data)[0].quality
    at = f", quality {quality / QUALITY_SCALE:g}" if quality else ""
    print(f"{output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp{at} "
          f"({w}x{h}), {seconds:.2f} s")
    return 0

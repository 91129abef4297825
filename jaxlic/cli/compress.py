"""``jaxlic compress IN.png [OUT.jlic]``: write a compressed file."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from jaxlic.cli.common import add_file_command, enable_compile_cache, load_codec


def add_parser(subparsers) -> None:
    add_file_command(subparsers, "compress", "compress an image to a .jlic file",
                     "image file (PNG, JPEG, WebP, ...)",
                     "output file (default: INPUT with .jlic)", run)


def run(args: argparse.Namespace) -> int:
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
    data = codec.compress(image)
    seconds = time.perf_counter() - start
    output.write_bytes(data)
    h, w = image.shape[:2]
    print(f"{output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
          f"({w}x{h}), {seconds:.2f} s")
    return 0

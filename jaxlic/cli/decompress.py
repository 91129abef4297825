"""``jaxlic decompress IN.jlic [OUT.png]``: decode a compressed file."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from jaxlic.cli.common import add_file_command, enable_compile_cache, load_codec


def add_parser(subparsers) -> None:
    add_file_command(subparsers, "decompress", "decode a .jlic file to an image",
                     ".jlic file", "output image (default: INPUT with .png)", run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.coding import BitstreamError
    from jaxlic.images import write_image

    enable_compile_cache()
    output = pathlib.Path(args.output or pathlib.Path(args.input).with_suffix(".png"))
    try:
        data = pathlib.Path(args.input).read_bytes()
        codec = load_codec(args)
        start = time.perf_counter()
        image = codec.decompress(data)
    except (OSError, ValueError, LookupError) as e:  # BitstreamError is a ValueError
        kind = "invalid file" if isinstance(e, BitstreamError) else "error"
        print(f"jaxlic decompress: {kind}: {e}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    write_image(output, image)
    h, w = image.shape[:2]
    print(f"{output}: {w}x{h} from {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp, "
          f"{seconds:.2f} s")
    return 0

"""``jaxlic decompress IN.jlic [OUT.png]``: decode a compressed file."""

from __future__ import annotations

import argparse
import pathlib
import time

from jaxlic.cli.common import (
    UserError,
    reporting_user_errors,
    add_file_command,
    enable_compile_cache,
    existing_file,
    load_codec,
    output_path,
    print_timings,
    writable_image_suffix,
)


def add_parser(subparsers) -> None:
    add_file_command(subparsers, "decompress", "decode a .jlic file to an image",
                     ".jlic file", "output image: .png, .bmp, .tif, ... "
                                   "(default: INPUT with .png)", run)


def _decompress(args: argparse.Namespace) -> int:
    from jaxlic.cli.progress import DECODE_STAGES, StageBar
    from jaxlic.coding import BitstreamError
    from jaxlic.images import DEFAULT_MAX_PIXELS, write_image

    source = existing_file(args.input)
    output = pathlib.Path(args.output or source.with_suffix(".png"))
    writable_image_suffix(output)
    output_path(output, source)
    enable_compile_cache()
    codec = load_codec(args)
    data = source.read_bytes()
    timings: dict[str, float] = {}
    bar = StageBar(DECODE_STAGES, enabled=not args.no_progress)
    start = time.perf_counter()
    try:
        image = codec.decompress(data, timings, progress=bar,
                                 max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)
    except BitstreamError as e:
        raise UserError(f"invalid file {source}: {e}") from e
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    try:
        write_image(output, image)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot write {output}: {e}") from e
    h, w = image.shape[:2]
    print(f"decompressed {source} ({len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp) to "
          f"{output} ({w}x{h}), {seconds:.2f} s")
    if args.verbose:
        print_timings(timings)
    return 0


run = reporting_user_errors("decompress", _decompress)

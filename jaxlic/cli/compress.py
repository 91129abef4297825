"""``jaxlic compress IN.png [OUT.jlic]``: write a compressed file."""

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
    positive_int,
    load_codec,
    model_label,
    notes,
    output_path,
    print_timings,
)


def add_parser(subparsers) -> None:
    p = add_file_command(subparsers, "compress", "compress an image to a .jlic file",
                         "image file (PNG, JPEG, WebP, TIFF, ...)",
                         "output file (default: INPUT with .jlic)", run)
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float,
                      help="1 (smallest files) to 8 (best), fractions allowed; variable-rate "
                           "models only (default 6)")
    rate.add_argument("--target-bpp", type=float, metavar="B",
                      help="the highest quality whose file takes at most B bits per pixel")
    p.add_argument("--refine", type=positive_int, metavar="STEPS",
                   help="optimise the image's latents for its own rate-distortion cost for "
                        "STEPS steps before coding (slower encoding, smaller or better "
                        "files, the same decoder; 40 is a good start)")


def _compress(args: argparse.Namespace) -> int:
    from jaxlic.cli.progress import ENCODE_STAGES, REFINE_ENCODE_STAGES, StageBar
    from jaxlic.coding import Refinement, bitstream
    from jaxlic.coding.gains import QUALITY_SCALE
    from jaxlic.images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, read_image

    source = existing_file(args.input)
    output = pathlib.Path(args.output or source.with_suffix(".jlic"))
    if output.suffix.lower() in IMAGE_SUFFIXES:
        raise UserError(f"the output {output} has an image suffix; compressed files are "
                        ".jlic (jaxlic decompress writes images)")
    output_path(output, source)
    enable_compile_cache()
    codec = load_codec(args)
    with notes("compress"):
        try:
            image = read_image(source, args.max_pixels or DEFAULT_MAX_PIXELS)
        except ValueError as e:
            raise UserError(str(e)) from e
    timings: dict[str, float] = {}
    refine = Refinement(steps=args.refine) if args.refine else None
    bar = StageBar(REFINE_ENCODE_STAGES if refine else ENCODE_STAGES,
                   enabled=not args.no_progress)
    start = time.perf_counter()
    try:
        data = codec.compress(image, timings, quality=args.quality,
                              target_bpp=args.target_bpp, refine=refine, progress=bar)
    except ValueError as e:
        raise UserError(str(e)) from e
    except MemoryError:
        raise UserError(f"out of memory compressing a {image.shape[1]}x{image.shape[0]} "
                        "image") from None
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    try:
        output.write_bytes(data)
    except OSError as e:
        raise UserError(f"cannot write {output}: {e.strerror or e}") from e
    h, w = image.shape[:2]
    quality = bitstream.unpack(data)[0].quality
    at = f", quality {quality / QUALITY_SCALE:g}" if quality else ""
    print(f"compressed {source} ({w}x{h}) to {output}: {len(data)} bytes, "
          f"{8 * len(data) / (h * w):.4f} bpp{at}, {seconds:.2f} s, model {model_label(args)}")
    if args.verbose:
        print_timings(timings)
    return 0


run = reporting_user_errors("compress", _compress)

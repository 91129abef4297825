"""``jaxlic demo``: compress and decompress the sample image shipped in the package."""

from __future__ import annotations

import argparse
import pathlib
import time
from importlib import resources

from jaxlic.cli.common import (
    reporting_user_errors,
    add_weights_argument,
    enable_compile_cache,
    load_codec,
    model_label,
    output_path,
    writable_image_suffix,
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="round-trip the bundled sample image, print bpp "
                                           "and PSNR")
    add_weights_argument(p)
    p.add_argument("--output", help="also write the reconstruction to this PNG")
    p.set_defaults(run=run)


def _demo(args: argparse.Namespace) -> int:
    from jaxlic import ModelConfig
    from jaxlic.coding import Codec
    from jaxlic.coding.codec import DEFAULT_QUALITY
    from jaxlic.eval.distortion import psnr_rgb
    from jaxlic.images import read_image, write_image

    with resources.as_file(resources.files("jaxlic.data").joinpath("sample.png")) as path:
        if args.output:
            writable_image_suffix(pathlib.Path(args.output))
            output_path(pathlib.Path(args.output), path)
        image = read_image(path)
    enable_compile_cache()
    label = model_label(args)
    if label:
        codec = load_codec(args)
    else:
        print("NOTE: this jaxlic build ships no trained weights yet. Running the real "
              "bitstream path with an UNTRAINED, randomly initialised N=128 model; its "
              "rate and quality say nothing about the codec.")
        codec = Codec.random(ModelConfig.n128(), seed=0)
        label = "untrained n128 (random init)"
    start = time.perf_counter()
    data = codec.compress(image)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    recon = codec.decompress(data)
    decode = time.perf_counter() - start
    h, w = image.shape[:2]
    psnr = psnr_rgb(image, recon)
    rate = (f", quality {DEFAULT_QUALITY:g} of 1-{codec.config.rate_levels}"
            if codec.config.rate_levels else "")
    print(f"model: {label} (id {codec.model_id.hex()}{rate})")
    print(f"sample {w}x{h}: {len(data)} bytes = {8 * len(data) / (h * w):.4f} bpp, "
          f"PSNR {psnr:.2f} dB, encode {encode:.2f} s, decode {decode:.2f} s "
          "(first call includes compilation)")
    if args.output:
        write_image(args.output, recon)
    return 0


run = reporting_user_errors("demo", _demo)

"""Per-stage encode and decode times of one image with real bitstreams.

    python benchmarks/codec_speed.py [--image PATH] [--weights FILE | --config n128] [--repeat 5]

Compilation happens in a warm-up round and is reported separately. The target of issue 3
on the 2-core CPU machine: entropy decoding (everything but the synthesis transform) of
a 768x512 Kodak image with N = 128 in at most 0.3 s. For reference, CompressAI's
cheng2020-attn (N = 128) decodes a Kodak image in about 3.7 s on such a machine, about
2.8 s of it in its serial context loop.

Timings depend on the latent statistics (the alphabet radius and how many channels are
coded): with untrained weights every channel is coded, which is the slow case.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import time

import jax

from jaxlic import Codec, ModelConfig
from jaxlic.coding import bitstream
from jaxlic.images import read_image

DEFAULT_IMAGE = pathlib.Path(__file__).resolve().parents[1].parent / "shared/data/kodak/kodim23.png"
ENCODE_STAGES = ("analysis", "z_coding", "hyper_synthesis", "y_coding")
DECODE_STAGES = ("z_coding", "hyper_synthesis", "y_coding", "synthesis")


def _median_times(fn, repeat: int) -> tuple[dict[str, float], float]:
    stages: dict[str, list[float]] = {}
    totals = []
    for _ in range(repeat):
        timings: dict[str, float] = {}
        start = time.perf_counter()
        fn(timings)
        totals.append(time.perf_counter() - start)
        for k, v in timings.items():
            stages.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in stages.items()}, statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default=str(DEFAULT_IMAGE))
    parser.add_argument("--weights", help="weights file (default: untrained --config model)")
    parser.add_argument("--config", default="n128")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    image = read_image(args.image)
    start = time.perf_counter()
    codec = (Codec.load(args.weights) if args.weights
             else Codec.random(ModelConfig.preset(args.config), seed=0))
    setup = time.perf_counter() - start
    start = time.perf_counter()
    data = codec.compress(image)
    codec.decompress(data)
    warmup = time.perf_counter() - start
    header, _, _ = bitstream.unpack(data)
    h, w = image.shape[:2]
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"{len(jax.devices())} device(s)")
    print(f"image {args.image} ({w}x{h}); model "
          f"{args.weights or 'untrained ' + args.config} (N={codec.config.latent_channels})")
    print(f"{len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp; radius {header.radius}, "
          f"{int(header.coded.sum())}/{header.coded.size} channels coded")
    print(f"setup {setup:.1f} s, first encode+decode (compilation) {warmup:.1f} s")

    enc, enc_total = _median_times(lambda t: codec.compress(image, t), args.repeat)
    dec, dec_total = _median_times(lambda t: codec.decompress(data, t), args.repeat)
    print(f"\nmedian of {args.repeat} runs, seconds")
    print("encode: " + ", ".join(f"{k} {enc.get(k, 0):.3f}" for k in ENCODE_STAGES)
          + f"; total {enc_total:.3f}")
    print("decode: " + ", ".join(f"{k} {dec.get(k, 0):.3f}" for k in DECODE_STAGES)
          + f"; total {dec_total:.3f}")
    entropy = sum(dec.get(k, 0) for k in DECODE_STAGES if k != "synthesis")
    print(f"entropy decoding (all but synthesis): {entropy:.3f} s "
          f"(target 0.3 s; CompressAI cheng2020-attn: ~3.7 s total, ~2.8 s context loop)")


if __name__ == "__main__":
    main()

"""Latent refinement with uniform noise against stochastic Gumbel annealing (SGA), real files.

    python benchmarks/refine_proxy.py --images kodim01,kodim02,kodim03 --qualities 1,2,3 \\
        --steps 40

For every image and quality: the plain file, then one refined file per proxy
(``Refinement(proxy=...)``, the same steps, learning rate and seed), each decoded and
scored with the cost that refinement minimises, ``lambda * 255^2 * MSE + bpp`` (lambda:
the quality's training lambda). Prints one line per image and quality, then per quality
the mean cost reduction of each proxy (plain cost minus refined cost) and the ratio of
SGA's to noise's, with the mean bpp and PSNR changes. The weights are the shipped default
unless ``--weights`` names a file.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jaxlic import Codec, Refinement, zoo
from jaxlic.coding.refine import PROXIES
from jaxlic.images import read_image


def score(codec: Codec, image: np.ndarray, data: bytes, lmbda: float) -> tuple[float, ...]:
    """``(cost, bpp, PSNR dB)`` of the file ``data`` for ``image``."""
    mse = np.mean((codec.decompress(data).astype(np.float64) - image) ** 2)
    bpp = 8 * len(data) / (image.shape[0] * image.shape[1])
    return lmbda * mse + bpp, bpp, 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=pathlib.Path, default=pathlib.Path("../shared/data/kodak"))
    parser.add_argument("--images", default="kodim01,kodim02,kodim03", help="comma-separated")
    parser.add_argument("--qualities", default="1,3,5,8", help="integer qualities, comma-separated")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--weights", help="weights file (default: the shipped default model)")
    args = parser.parse_args()
    codec = Codec.load(args.weights) if args.weights else zoo.load()
    qualities = [int(q) for q in args.qualities.split(",")]
    lmbdas = codec.training["level_lmbdas"]
    rows = []  # (quality, proxy, cost reduction, bpp change, PSNR change)
    print(f"{'image':8} q  {'plain cost':>10} " + " ".join(
        f"{p + ' cost':>10} {p + ' s':>7}" for p in PROXIES))
    for name in args.images.split(","):
        image = read_image(args.kodak / f"{name}.png")
        for q in qualities:
            lmbda = lmbdas[q - 1]
            plain = score(codec, image, codec.compress(image, quality=q), lmbda)
            line = f"{name:8} {q}  {plain[0]:10.4f}"
            for proxy in PROXIES:
                start = time.perf_counter()
                data = codec.compress(image, quality=q,
                                      refine=Refinement(steps=args.steps, proxy=proxy))
                seconds = time.perf_counter() - start
                refined = score(codec, image, data, lmbda)
                rows.append((q, proxy, plain[0] - refined[0], refined[1] - plain[1],
                             refined[2] - plain[2]))
                line += f" {refined[0]:10.4f} {seconds:7.1f}"
            print(line, flush=True)
    print("\nper quality, mean over images: cost reduction (bpp change, PSNR change dB)")
    for q in qualities:
        means = {p: np.mean([r[2:] for r in rows if r[0] == q and r[1] == p], axis=0)
                 for p in PROXIES}
        parts = [f"{p} {m[0]:.4f} ({m[1]:+.4f}, {m[2]:+.3f})" for p, m in means.items()]
        print(f"q{q}: " + ", ".join(parts)
              + f"; sga / noise {means['sga'][0] / means['noise'][0]:.3f}")


if __name__ == "__main__":
    main()

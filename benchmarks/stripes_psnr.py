"""PSNR of the streamed decoder against whole-image synthesis on one large photo.

    python benchmarks/stripes_psnr.py --weights model.npz --megapixels 24 --quality 7

The photo is made as in ``large_images.py`` (Kodak resized, under ``--scratch``). It is
compressed once; the file is decoded twice, with the synthesis streamed in stripes (the
codec's rule for its size) and on the whole image at once (``stripes.WHOLE_PIXELS``
raised), and both reconstructions are compared with the photo. Whole-image synthesis
needs memory in proportion to the image: several GiB at 24 MP for N = 64.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from large_images import _image  # noqa: E402  (benchmarks/ is on sys.path as a script)

from jaxlic.coding import Codec, stripes  # noqa: E402
from jaxlic.images import read_image  # noqa: E402


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True, help="weights file")
    parser.add_argument("--quality", type=float, help="quality level (variable-rate model)")
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--scratch", default="/tmp/jaxlic_large", help="image folder")
    args = parser.parse_args()

    scratch = pathlib.Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    photo = read_image(_image(args.megapixels, scratch), max_pixels=None)
    codec = Codec.load(args.weights)
    data = codec.compress(photo, quality=args.quality)
    height, width = photo.shape[:2]
    rows = {}
    for way in ("streamed", "whole"):
        if way == "whole":
            stripes.WHOLE_PIXELS = 1 << 40
        start = time.perf_counter()
        pixels = codec.decompress(data, max_pixels=height * width)
        rows[way] = {"psnr_db": _psnr(photo, pixels), "seconds": time.perf_counter() - start}
        rows[way]["pixels"] = pixels
    differ = np.mean(rows["streamed"].pop("pixels") != rows["whole"].pop("pixels"))
    print(json.dumps({"image": f"{width}x{height}", "weights": args.weights,
                      "quality": args.quality, "bpp": 8 * len(data) / (height * width),
                      **rows, "psnr_difference_db": rows["streamed"]["psnr_db"]
                      - rows["whole"]["psnr_db"], "share_of_values_differing": differ}))


if __name__ == "__main__":
    main()

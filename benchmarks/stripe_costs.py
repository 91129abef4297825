"""What streaming the analysis in stripes costs, and what it does not (docs/performance.md).

    python benchmarks/stripe_costs.py --config n128 --width 6016 --height 4032

Three measurements on an untrained model, each program jitted alone, best of
``--repeat`` runs after a warm-up call (run it with nothing else on the machine):

1. shapes: analysis stages 1 and 4 (the MSRBs at 1/2 and 1/4 resolution) on windows of
   equal positions but different widths, and of different sizes: ns per position;
2. split: kodim23 through the whole-image analysis program, through the stages as
   separate programs with one chunk each, and with small chunks (2^14 positions);
3. plan: every stage on an inner window of the stripe plan for ``--height x --width``,
   summed per image pixel (halo included), to compare with the streamed analysis time
   that ``benchmarks/large_images.py`` reports.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from jaxlic import AsymmetricModel, Codec, ModelConfig  # noqa: E402
from jaxlic.coding import stripes  # noqa: E402
from jaxlic.coding.transforms import _apply_stage  # noqa: E402
from jaxlic.models.asymmetric import stage_reaches  # noqa: E402

KODAK = ROOT.parent / "shared" / "data" / "kodak" / "kodim23.png"


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``run()`` (which blocks) over ``repeat`` calls after a warm one."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def stage_seconds(codec: Codec, index: int, shape: tuple[int, ...], repeat: int) -> float:
    """One analysis stage's program on a random window of ``shape``."""
    model = AsymmetricModel(codec.config)
    program = jax.jit(lambda p, x: _apply_stage(model, "analysis", p, x, index))
    x = jnp.asarray(np.random.default_rng(0).uniform(size=shape).astype(np.float32))
    return best_seconds(lambda: program(codec.params, x).block_until_ready(), repeat)


def shapes(codec: Codec, repeat: int) -> None:
    n = codec.config.latent_channels
    for index, windows in ((1, ((87, 3008), (174, 1504), (682, 384), (256, 384), (174, 3008))),
                           (4, ((174, 1504), (348, 752), (1365, 192), (256, 384), (174, 3008)))):
        for rows, width in windows:
            t = stage_seconds(codec, index, (1, rows, width, n), repeat)
            print(f"stage {index}, window {rows}x{width}: {t * 1e3:.0f} ms, "
                  f"{t / (rows * width) * 1e9:.0f} ns per position", flush=True)


def split(codec: Codec, repeat: int) -> None:
    with Image.open(KODAK) as image:
        pixels = np.asarray(image.convert("RGB"))
    count = pixels.shape[0] * pixels.shape[1]
    variants = (("whole-image program", stripes.WHOLE_PIXELS, stripes.STAGE_POSITIONS),
                ("stages, one chunk each", 0, stripes.STAGE_POSITIONS),
                ("stages, 2^14 positions per chunk", 0, 1 << 14))
    saved = stripes.WHOLE_PIXELS, stripes.STAGE_POSITIONS
    try:
        for label, whole, positions in variants:
            stripes.WHOLE_PIXELS, stripes.STAGE_POSITIONS = whole, positions
            t = best_seconds(lambda: codec._transforms.analysis(codec.params, [pixels]), repeat)
            print(f"kodim23 analysis, {label}: {t:.3f} s, {t / count * 1e6:.2f} us per pixel",
                  flush=True)
    finally:
        stripes.WHOLE_PIXELS, stripes.STAGE_POSITIONS = saved


def plan(codec: Codec, height: int, width: int, repeat: int) -> None:
    reaches = stage_reaches(codec.config, "analysis")
    rows = stripes.plan(reaches, height, width)
    if rows is None:
        print(f"{width}x{height} runs as one whole-image program: no stripe plan")
        return
    channels = [3] + [codec.config.latent_channels] * (len(reaches) - 1)
    scale, total = 1.0, 0.0
    for index, (reach, count) in enumerate(zip(reaches, rows)):
        _, size = stripes._input_window(reach, count, 1)
        stage_width = int(width * scale)
        t = stage_seconds(codec, index, (1, size, stage_width, channels[index]), repeat)
        own = float(count / reach.scale)  # input rows this chunk owns
        per_pixel = t / (own * stage_width / scale**2)
        total += per_pixel
        print(f"stage {index}: window {size}x{stage_width}x{channels[index]}, {t * 1e3:.0f} ms, "
              f"halo {size / own - 1:.1%}, {per_pixel * 1e6:.3f} us per image pixel", flush=True)
        scale *= float(reach.scale)
    print(f"sum over the stages: {total * 1e6:.3f} us per image pixel at {width}x{height}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="n128", help="untrained model preset")
    parser.add_argument("--width", type=int, default=6016, help="padded width for the plan")
    parser.add_argument("--height", type=int, default=4032, help="padded height for the plan")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    codec = Codec.random(ModelConfig.preset(args.config), seed=0)
    shapes(codec, args.repeat)
    split(codec, args.repeat)
    plan(codec, args.height, args.width, args.repeat)


if __name__ == "__main__":
    main()

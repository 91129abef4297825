"""Compare training runs of two widths at (about) equal CPU hours on Kodak.

Each ``--run`` is ``LABEL=WORKDIR:STEP``: the checkpoint ``STEP`` of a variable-rate
training run. Every run is estimated with the training program's validation (model
likelihoods, rounded latents) at all its quality levels on the same Kodak images, and
the first run is the anchor of the BD-rates::

    python benchmarks/width_comparison.py --kodak ../shared/data/kodak --images 4 \\
        --run N64=/root/jaxlic-runs/main:1000 --run N128=/root/jaxlic-runs/n128_vr:250

CPU hours come from the run's ``metrics.jsonl`` (the training processes' own CPU time).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the train package

from jaxlic import AsymmetricModel, ModelConfig
from jaxlic.eval.bdrate import bd_psnr, bd_rate
from train.checkpoint import Checkpointer
from train.evaluate import make_estimator, validate
from train.input_pipeline import aligned_images
from train.loop import loss_config
from train.metrics_writer import logged_cpu_hours


def estimate_run(workdir: pathlib.Path, step: int, images: list) -> dict:
    """Per-level bpp and PSNR of checkpoint ``step`` of ``workdir``, with its CPU hours."""
    checkpointer = Checkpointer(workdir, read_only=True)
    config = checkpointer.saved_config(step)
    model_config = ModelConfig.from_dict(config.model.to_dict())
    estimate = make_estimator(AsymmetricModel(model_config), loss_config(config))
    start = time.perf_counter()
    metrics = validate(estimate, checkpointer.params(step), images,
                       range(model_config.rate_levels))
    levels = range(1, model_config.rate_levels + 1)
    return {"bpp": [metrics[f"q{q}/bpp"] for q in levels],
            "psnr": [metrics[f"q{q}/psnr"] for q in levels],
            "cpu_hours": logged_cpu_hours(workdir, step),
            "width": model_config.latent_channels, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=pathlib.Path, default=pathlib.Path("../shared/data/kodak"))
    parser.add_argument("--images", type=int, default=4, help="first N Kodak images")
    parser.add_argument("--run", action="append", required=True, help="LABEL=WORKDIR:STEP")
    args = parser.parse_args()
    images = aligned_images(args.kodak, args.images)
    results = {}
    for spec in args.run:
        label, rest = spec.split("=", 1)
        workdir, step = rest.rsplit(":", 1)
        results[label] = r = estimate_run(pathlib.Path(workdir), int(step), images)
        print(f"{label}: N={r['width']} step {step}, {r['cpu_hours']:.3f} CPU hours, "
              f"estimated in {r['seconds']:.0f} s")
        print("  bpp  " + " ".join(f"{b:6.3f}" for b in r["bpp"]))
        print("  PSNR " + " ".join(f"{p:6.2f}" for p in r["psnr"]))
    anchor_label, anchor = next(iter(results.items()))
    for label, r in list(results.items())[1:]:
        try:
            rate = bd_rate(anchor["bpp"], anchor["psnr"], r["bpp"], r["psnr"])
            psnr = bd_psnr(anchor["bpp"], anchor["psnr"], r["bpp"], r["psnr"])
            print(f"{label} against {anchor_label}: BD-rate {rate:+.1f} %, BD-PSNR {psnr:+.2f} dB")
        except ValueError as error:  # the curves share no rate or quality range
            print(f"{label} against {anchor_label}: no BD figure ({error})")


if __name__ == "__main__":
    main()

"""Compare variable-rate models on Kodak: training runs of two widths at (about) equal CPU
hours, a run's moving average against its parameters, a checkpoint against a release.

Each ``--run`` is ``LABEL=WORKDIR:STEP`` (the checkpoint ``STEP`` of a training run),
``LABEL=WORKDIR:STEP:ema`` (its moving average of the parameters, ``optim.ema_decay``)
or ``LABEL=WEIGHTS.npz`` (a weights file, e.g. the shipped release). Every model is
estimated with the training program's validation (model likelihoods, rounded latents)
at all its quality levels on the same Kodak images, and the first is the anchor of the
BD-rates::

    python benchmarks/width_comparison.py --kodak ../shared/data/kodak --images 4 \\
        --run N64=/root/jaxlic-runs/main:1000 --run N128=/root/jaxlic-runs/n128_vr:250
    python benchmarks/width_comparison.py --run shipped=jaxlic/zoo/weights/fu2022-n64-vr.npz \\
        --run raw=/root/jaxlic-runs/main:50000 --run ema=/root/jaxlic-runs/main:50000:ema

CPU hours come from the run's ``metrics.jsonl`` (the training processes' own CPU time),
or from the weights file's training record.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the train package

from jaxlic import AsymmetricModel, ModelConfig
from jaxlic.coding import weights
from jaxlic.eval.bdrate import bd_psnr, bd_rate
from jaxlic.training import LossConfig
from train.checkpoint import Checkpointer
from train.evaluate import make_estimator, validate
from train.input_pipeline import aligned_images
from train.loop import loss_config
from train.metrics_writer import logged_cpu_hours


def load_model(spec: str) -> tuple[ModelConfig, LossConfig, dict, float, str]:
    """``WORKDIR:STEP[:ema]`` or ``WEIGHTS.npz`` -> model, objective, parameters, CPU hours
    and a description."""
    if spec.endswith(".npz"):
        model_config, params, _, meta = weights.load(spec)
        training = meta.get("training", {})
        loss = LossConfig(0.0, training.get("distortion", "mse"),
                          level_lmbdas=tuple(training.get("level_lmbdas", ())))
        return (model_config, loss, params, float(training.get("cpu_hours", 0.0)),
                f"{spec} (step {training.get('step')})")
    ema = spec.endswith(":ema")
    workdir, step = spec.removesuffix(":ema").rsplit(":", 1)
    checkpointer = Checkpointer(workdir, read_only=True)
    try:
        config = checkpointer.saved_config(int(step))
        params = checkpointer.params(int(step), ema=ema)
    finally:
        checkpointer.close()
    description = f"{workdir} step {step}" + (" (ema)" if ema else "")
    return (ModelConfig.from_dict(config.model.to_dict()), loss_config(config), params,
            logged_cpu_hours(workdir, int(step)), description)


def estimate_run(spec: str, images: list) -> dict:
    """Per-level bpp and PSNR of the model ``spec`` (``load_model``), with its CPU hours."""
    model_config, loss, params, cpu_hours, description = load_model(spec)
    estimate = make_estimator(AsymmetricModel(model_config), loss)
    start = time.perf_counter()
    metrics = validate(estimate, params, images, range(model_config.rate_levels))
    levels = range(1, model_config.rate_levels + 1)
    return {"bpp": [metrics[f"q{q}/bpp"] for q in levels],
            "psnr": [metrics[f"q{q}/psnr"] for q in levels],
            "cpu_hours": cpu_hours, "description": description,
            "width": model_config.latent_channels, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=pathlib.Path, default=pathlib.Path("../shared/data/kodak"))
    parser.add_argument("--images", type=int, default=4, help="first N Kodak images")
    parser.add_argument("--run", action="append", required=True,
                        help="LABEL=WORKDIR:STEP, LABEL=WORKDIR:STEP:ema or LABEL=WEIGHTS.npz")
    args = parser.parse_args()
    images = aligned_images(args.kodak, args.images)
    results = {}
    for spec in args.run:
        label, rest = spec.split("=", 1)
        results[label] = r = estimate_run(rest, images)
        print(f"{label}: {r['description']}, M={r['width']}, {r['cpu_hours']:.3f} CPU hours, "
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

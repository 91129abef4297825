"""Export release weights from a training run.

``python -m train.export --workdir=runs/x --out=model.npz`` writes the parameters of
one checkpoint (the last by default; the optimiser state is left out; ``--ema``: their
moving average, for a run with ``optim.ema_decay``) with the codec's
tables into one file that ``jaxlic.Codec.load`` reads. ``--zoo=NAME`` writes it into the
package instead (``jaxlic/zoo/weights/NAME.npz``, half precision) and lists it in
``jaxlic/zoo/index.json`` (``--default`` makes it the model the CLI uses); its model card
``jaxlic/zoo/cards/NAME.md`` is written by hand from the measurements.
``--config`` (optional) names the configuration the weights are meant for; a checkpoint
of another model configuration is refused with both configurations in the message.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

from absl import app, flags
from ml_collections import config_flags

from jaxlic import Codec, ModelConfig
from jaxlic.coding import weights
from train.checkpoint import Checkpointer
from train.metrics_writer import logged_cpu_hours

ZOO = pathlib.Path(__file__).resolve().parents[1] / "jaxlic" / "zoo"

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training folder whose checkpoint is exported.")
flags.DEFINE_string("out", None, "Weights file to write.")
flags.DEFINE_string("zoo", None, "Add the weights to jaxlic.zoo under this name instead of --out.")
flags.DEFINE_bool("default", False, "With --zoo: make it the default model.")
flags.DEFINE_integer("step", None, "Checkpoint step to export (default: the last).")
flags.DEFINE_bool("half_precision", False, "Store float16 parameters.")
flags.DEFINE_bool("ema", False, "Export the moving average of the parameters (optim.ema_decay).")
config_flags.DEFINE_config_file("config", None, "Expected training configuration (optional).")


def export(workdir: str | os.PathLike, out: str | os.PathLike, step: int | None = None,
           expected_model: dict | None = None, half_precision: bool = False,
           ema: bool = False) -> Codec:
    """Write the weights file ``out`` from ``workdir``'s checkpoint ``step`` (its moving
    average of the parameters with ``ema``); return its codec.

    Raises ``FileNotFoundError`` if there is no such checkpoint and ``ValueError`` if
    ``expected_model`` (a ``ModelConfig`` dict) differs from the checkpoint's or ``ema``
    is asked of a run that kept no average.
    """
    checkpointer = Checkpointer(workdir, read_only=True)
    try:
        step = checkpointer.saved_step(step)
        if expected_model is not None:
            checkpointer.check_model(step, expected_model)
        config = checkpointer.saved_config(step)
        params = checkpointer.params(step, ema)
    finally:
        checkpointer.close()
    training = {"step": step, "distortion": config.distortion,
                "cpu_hours": round(logged_cpu_hours(workdir, step), 3),
                **({"ema_decay": config.optim.ema_decay} if ema else {})}
    levels = list(config.get("level_lmbdas", ()))
    training.update({"level_lmbdas": levels} if levels else {"lmbda": config.lmbda})
    codec = Codec(ModelConfig.from_dict(config.model.to_dict()), params, training=training)
    codec.save(out, half_precision=half_precision)
    return Codec.load(out) if half_precision else codec


def add_to_zoo(workdir: str | os.PathLike, name: str, step: int | None = None,
               expected_model: dict | None = None, default: bool = False,
               zoo: pathlib.Path = ZOO, ema: bool = False) -> pathlib.Path:
    """Export ``workdir``'s checkpoint in half precision to ``<zoo>/weights/NAME.npz``
    and list it in ``<zoo>/index.json``; return the weights path."""
    path = zoo / "weights" / f"{name}.npz"
    path.parent.mkdir(exist_ok=True)
    codec = export(workdir, path, step, expected_model, half_precision=True, ema=ema)
    index_path = zoo / "index.json"
    index = json.loads(index_path.read_text())
    index["models"][name] = {
        "file": path.name, "card": f"{name}.md",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "model_id": codec.model_id.hex(), "latent_channels": codec.config.latent_channels,
        **weights.load(path)[3]["training"]}
    if default:
        index["default"] = name
    index_path.write_text(json.dumps(index, indent=2) + "\n")
    return path


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    expected = FLAGS.config.model.to_dict() if FLAGS.config else None
    if FLAGS.zoo:
        path = add_to_zoo(FLAGS.workdir, FLAGS.zoo, FLAGS.step, expected, FLAGS.default,
                          ema=FLAGS.ema)
        print(f"wrote {path} and its entry in {ZOO / 'index.json'}; write its model card "
              f"{ZOO / 'cards' / (FLAGS.zoo + '.md')}")
    elif FLAGS.out:
        export(FLAGS.workdir, FLAGS.out, FLAGS.step, expected, FLAGS.half_precision, FLAGS.ema)
        print(f"wrote {FLAGS.out}")
    else:
        raise app.UsageError("pass --out=FILE or --zoo=NAME")


if __name__ == "__main__":
    flags.mark_flags_as_required(["workdir"])
    app.run(main)

"""Train a jaxlic model.

    python -m train.main --config=configs/n128_mse_0032.py --workdir=runs/n128_0032

Kept thin: flags, optional multi-host set-up, then ``loop.train_and_evaluate``. Override
any config field with ``--config.<field>=<value>``; ``--resume`` continues a run. A short
GPU lease is this program with ``--config=configs/lease.py`` (device-resident data, a
wall-clock budget; train/gpu_run.sh, docs/gpu_training.md).
On several hosts, run the same command on each with ``--coordinator_address``,
``--num_processes`` and ``--process_id`` (or the environment variables
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``), or with
``--distributed`` alone where JAX detects the cluster itself (Cloud TPU, SLURM, ...).
On Linux it first re-executes itself once with a faster memory allocator, as the
``jaxlic`` command does (``jaxlic.cli.allocator``: tcmalloc where installed, about 20 %
less CPU per step on the 2-core machine, docs/training.md); ``JAXLIC_ALLOCATOR=system``
keeps the system's.
"""

from __future__ import annotations

import logging as std_logging
import os

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from jaxlic.cli import allocator
from train import loop

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Training configuration file.",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Folder for checkpoints, logs and TensorBoard files.")
flags.DEFINE_bool("resume", False, "Continue from the last checkpoint in --workdir.")
flags.DEFINE_bool("distributed", False, "Initialise jax.distributed (multi-host training).")
flags.DEFINE_string("coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS"),
                    "host:port of process 0; implies --distributed.")
flags.DEFINE_integer("num_processes", int(os.environ.get("JAX_NUM_PROCESSES", 0)) or None,
                     "Number of hosts (processes).")
flags.DEFINE_integer("process_id", int(os.environ.get("JAX_PROCESS_ID", -1)),
                     "Index of this host, 0 to num_processes - 1.")
flags.mark_flags_as_required(["config", "workdir"])


def init_distributed(coordinator_address: str | None, num_processes: int | None,
                     process_id: int | None) -> None:
    """``jax.distributed.initialize``; arguments left None are detected by JAX."""
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    logging.info("host %d of %d, %d local devices, %d in all", jax.process_index(),
                 jax.process_count(), jax.local_device_count(), jax.device_count())


def quiet_checkpoint_logs() -> None:
    """Drop orbax's per-save INFO lines (dozens per checkpoint) unless ``--verbosity`` is set."""
    if not FLAGS["verbosity"].present:
        logging.get_absl_handler().addFilter(
            lambda record: record.levelno >= std_logging.WARNING or "orbax" not in record.pathname)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    loop.stop_on_sigterm()
    quiet_checkpoint_logs()
    if FLAGS.distributed or FLAGS.coordinator_address:
        init_distributed(FLAGS.coordinator_address, FLAGS.num_processes,
                         FLAGS.process_id if FLAGS.process_id >= 0 else None)
    loop.train_and_evaluate(FLAGS.config, FLAGS.workdir, resume=FLAGS.resume)


if __name__ == "__main__":
    allocator.relaunch()
    app.run(main)

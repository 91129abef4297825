"""A short GPU lease (docs/gpu_training.md): a base configuration trained from
device-resident data for a wall-clock budget, in the folders train/prepare_gpu.py fills.

    python -m train.main --config=configs/lease.py:variable_rate_n64 --workdir=.gpu/run --resume

The base is a configuration module of this folder (default: the shipped
``variable_rate_n64``); its model, objective and optimiser are kept, so that a lease and
the CPU run continue each other's checkpoints.
"""

import importlib

import ml_collections


def get_config(base: str = "variable_rate_n64") -> ml_collections.ConfigDict:
    c = importlib.import_module(f"configs.{base}").get_config()
    c.data.train_dir = ".gpu/data"
    c.val.dir = ".gpu/val"
    c.data.device_resident = True
    c.data.num_workers = 0
    c.data.max_downscale = 1.0
    c.data.crop_size = 256  # the paper's crops; the GPU affords them
    c.time_budget = 420.0
    c.max_skipped_steps = 20  # a lease skips rare non-finite steps rather than stop
    c.checkpoint_every = 0  # one checkpoint, when the budget is spent
    c.log_every = 100
    c.progress_bar = False
    return c

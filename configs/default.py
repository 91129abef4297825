"""Defaults of every training configuration: the paper's recipe (spec section 5.2).

Each setting file imports this module and overrides a few fields, e.g.
``paper_config("n128", "mse", 0.0032)``. Override any field on the command line:
``--config=configs/n128_mse_0032.py --config.lmbda=0.004 --config.data.num_workers=8``.
"""

from __future__ import annotations

import dataclasses
import pathlib

import ml_collections
from ml_collections import config_dict

from jaxlic import ModelConfig
from jaxlic.losses import QUALITY_LMBDAS

# The project's shared data folder (next to the repository); override the paths for your data.
DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


def model_config(preset: str) -> ml_collections.ConfigDict:
    """Every ``jaxlic.ModelConfig`` field of a preset (``n128``, ``n256``, ``tiny``); the
    unset ``transform_channels`` is an integer placeholder, so that the command line can
    set it (``--config.model.transform_channels=64``)."""
    fields = dataclasses.asdict(ModelConfig.preset(preset))
    if fields["transform_channels"] is None:
        fields["transform_channels"] = config_dict.placeholder(int)
    return ml_collections.ConfigDict(fields)


def get_config() -> ml_collections.ConfigDict:
    """The N=128, MSE, lambda=0.0032 model trained as in the paper."""
    c = ml_collections.ConfigDict()
    c.model = model_config("n128")
    c.compute_dtype = "float32"  # of g_a, the importance map and g_s: "float32" | "bfloat16"
    c.seed = 0

    c.lmbda = 0.0032  # rate-distortion trade-off on the paper's scale
    # A variable-rate model (model.rate_levels > 0) takes one lambda per quality level
    # instead, ascending; each example draws its level. Empty for the paper's models.
    c.level_lmbdas = ()
    # With level_lmbdas: one weight per level on each example's whole lambda * D + R
    # (docs/training.md, "Clipping weighs the qualities"); empty = all 1.
    c.level_weights = ()
    c.distortion = "mse"  # "mse" (255^2 * MSE) | "ms-ssim" (1 - MS-SSIM)
    c.pq_steps = 20_000  # lambda_1 of the PQF loss is 1 before this step, then 0
    # Only the first this many channels of y count in the rate (for a while after
    # train.widen added channels, docs/training.md); None = all.
    c.rated_channels = config_dict.placeholder(int)

    c.optim = ml_collections.ConfigDict()
    c.optim.lr = 1e-4
    c.optim.first_halving = 850_000
    c.optim.halving_every = 100_000
    c.optim.warmup = 0  # steps of linear learning-rate warm-up
    c.optim.aux_multiplier = 10.0  # learning rate of the quantiles' Adam, relative
    c.optim.clip_norm = config_dict.placeholder(float)  # global-norm clipping; None = off
    # Decay of an exponential moving average of the parameters kept beside them (e.g.
    # 0.999: a horizon of ~1000 steps), validated as "val_ema" and exported with
    # `train.export --ema`; 0 = none.
    c.optim.ema_decay = 0.0

    c.batch_size = 8  # global, over all devices of all hosts
    c.num_steps = 1_500_000
    c.time_budget = 0.0  # seconds of training, from the end of the first step; 0 = none
    c.max_skipped_steps = 0  # non-finite steps (each skipped) tolerated before the run stops
    c.init_weights = ""  # weights file a new run starts from (fresh optimiser); "" = init

    c.data = ml_collections.ConfigDict()
    c.data.train_dir = str(DATA / "bsds500")
    c.data.crop_size = 256
    c.data.random_flip = True
    c.data.max_downscale = 1.0  # down-scale images randomly by up to this factor; 1 = off
    c.data.num_workers = 4  # grain worker processes per host; 0 = in the main process
    c.data.worker_buffer_size = 2  # batches prefetched by each worker
    # Decode every image once, hold them on the device as uint8 and sample the crops in
    # the compiled step (for short accelerator leases; no grain workers, no down-scaling).
    c.data.device_resident = False

    c.val = ml_collections.ConfigDict()
    c.val.dir = str(DATA / "kodak")
    c.val.every = 10_000  # steps; 0 = never
    c.val.max_images = 0  # 0 = all images of the folder
    c.val.levels = ()  # quality levels estimated for a variable-rate model; () = all

    c.log_every = 100  # steps between metric writes and NaN checks
    c.checkpoint_every = 5_000
    c.keep_checkpoints = 3
    c.progress_bar = True
    return c


def paper_config(preset: str, distortion: str, lmbda: float) -> ml_collections.ConfigDict:
    """One of the paper's eleven settings: model preset, distortion and lambda."""
    c = get_config()
    c.model = model_config(preset)
    c.distortion = distortion
    c.lmbda = lmbda
    return c



def variable_rate_config(preset: str) -> ml_collections.ConfigDict:
    """One model for CompressAI's eight MSE qualities (gain units, Cui et al. 2021),
    trained with the budget recipe measured on the project's 2-core CPU (docs/training.md):
    128x128 crops, gradient clipping at global norm 1, a short warm-up, a constant
    learning rate until the final halvings, which are scheduled when a release is cut, and
    a moving average of the parameters (decay 0.999), which a release may export instead."""
    c = get_config()
    c.model = model_config(preset)
    c.model.rate_levels = len(QUALITY_LMBDAS)
    c.level_lmbdas = QUALITY_LMBDAS
    c.lmbda = 0.0  # unused: each example draws its level's lambda
    c.optim.lr = 2e-4
    c.optim.warmup = 100
    c.optim.clip_norm = 1.0
    c.optim.ema_decay = 0.999
    c.data.crop_size = 128
    c.data.num_workers = 1
    c.num_steps = 2_000_000
    c.val.every = 2_000
    c.val.max_images = 4
    c.log_every = 50
    c.checkpoint_every = 500
    return c

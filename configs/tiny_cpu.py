"""A tiny model for a quick CPU run (two minutes with compilation) on 64x64 crops."""

from configs import default


def get_config():
    c = default.get_config()
    c.model = default.model_config("tiny")
    c.lmbda = 0.01
    c.optim.lr = 3e-3
    c.optim.first_halving = 400
    c.optim.halving_every = 100
    c.pq_steps = 100
    c.num_steps = 500
    c.data.crop_size = 64
    c.data.num_workers = 1
    c.val.every = 250
    c.val.max_images = 4
    c.log_every = 50
    c.checkpoint_every = 250
    c.keep_checkpoints = 2
    return c

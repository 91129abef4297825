"""Paper setting: N=128, MSE, lambda=0.0032."""

from configs import default


def get_config():
    return default.paper_config("n128", "mse", 0.0032)

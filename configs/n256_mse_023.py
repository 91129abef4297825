"""Paper setting: N=256, MSE, lambda=0.023."""

from configs import default


def get_config():
    return default.paper_config("n256", "mse", 0.023)

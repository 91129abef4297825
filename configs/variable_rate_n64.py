"""The shipped default: the N=64 (half-width) model for CompressAI's eight MSE qualities."""

from configs import default


def get_config():
    return default.variable_rate_config("n64")

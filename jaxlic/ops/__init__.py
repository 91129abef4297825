"""Small numerical operations shared by layers and entropy models."""

from jaxlic.ops.math import lower_bound, std_normal_cdf
from jaxlic.ops.quantize import add_uniform_noise, gumbel_rounding, round_about

__all__ = ["add_uniform_noise", "gumbel_rounding", "lower_bound", "round_about",
           "std_normal_cdf"]

"""Entropy models: the factorised prior for z and the Gaussian mixture for y."""

from jaxlic.entropy import factorized, gmm
from jaxlic.entropy.factorized import EntropyBottleneck
from jaxlic.entropy.gmm import EntropyParameters, Mixture, mixture_from_raw

__all__ = ["EntropyBottleneck", "EntropyParameters", "Mixture", "factorized", "gmm",
           "mixture_from_raw"]

"""The exact probability path: integer h_s, context model and head, integer mixture tables."""

from jaxlic.coding.exact.model import ExactEntropyModel
from jaxlic.coding.exact.mixture import MixtureGrid, frequencies

__all__ = ["ExactEntropyModel", "MixtureGrid", "frequencies"]

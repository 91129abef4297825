"""Real bitstreams: integer coding tables, range coding, the file format, the Codec."""

from jaxlic.coding.codec import Codec
from jaxlic.coding.errors import BitstreamError
from jaxlic.coding.refine import Refinement
from jaxlic.coding.weights import WeightsError

__all__ = ["BitstreamError", "Codec", "Refinement", "WeightsError"]

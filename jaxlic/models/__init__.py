"""Model definitions and their configurations."""

from jaxlic.models.asymmetric import ALIGNMENT, AsymmetricModel, check_image_size, init_params
from jaxlic.models.config import ModelConfig

__all__ = ["ALIGNMENT", "AsymmetricModel", "ModelConfig", "check_image_size", "init_params"]

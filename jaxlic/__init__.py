"""jaxlic: learned image compression in JAX/Flax.

The asymmetric codec of Fu et al. 2022 (multi-scale residual blocks, importance map,
post-quantisation filter) on the Cheng et al. 2020 entropy model, with real bitstreams.
"""

from jaxlic.coding import BitstreamError, Codec, WeightsError
from jaxlic.models import AsymmetricModel, ModelConfig, init_params

__version__ = "0.1.0"

__all__ = ["AsymmetricModel", "BitstreamError", "Codec", "ModelConfig", "WeightsError",
           "__version__", "init_params"]

"""Evaluation: real-bitstream R-D measurement of any codec over an image folder,
classical-codec baselines, Bjontegaard deltas and R-D plots.

``runner`` measures one codec (the ``ImageCodec`` protocol) per image; ``classical`` wraps
JPEG, WebP, JPEG 2000, AVIF, JPEG XL and HEVC with their quality sweeps; ``results`` reads
and writes CompressAI-format JSON and per-image CSV; ``bdrate`` and ``plot`` compare curves.
"""

from jaxlic.eval.bdrate import bd_psnr, bd_rate
from jaxlic.eval.images import load_images
from jaxlic.eval.results import Curve, read_curve, summarize
from jaxlic.eval.runner import ImageCodec, ImageResult, Setting, evaluate, measure

__all__ = ["Curve", "ImageCodec", "ImageResult", "Setting", "bd_psnr", "bd_rate", "evaluate",
           "load_images", "measure", "read_curve", "summarize"]

"""Parameter counts and multiply-accumulates per component, computed abstractly."""

from __future__ import annotations

import math
from collections import defaultdict

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlic.layers.conv import MaskedConv, causal_mask
from jaxlic.layers.gdn import GDN
from jaxlic.models.asymmetric import AsymmetricModel, param_shapes
from jaxlic.models.config import ModelConfig

COMPONENTS = ("g_a", "importance_map", "h_a", "h_s", "context", "entropy_parameters",
              "entropy_bottleneck", "pqf", "g_s", "gain_y", "gain_z")  # gains: variable rate
ENCODER = ("g_a", "importance_map", "h_a", "h_s", "context", "entropy_parameters")
DECODER = ("h_s", "context", "entropy_parameters", "pqf", "g_s")


def parameter_counts(config: ModelConfig) -> dict[str, int]:
    """Number of parameters per top-level component (no arrays are allocated)."""
    shapes = param_shapes(config)
    return {name: sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes.get(name, {})))
            for name in COMPONENTS}


def _layer_macs(module: nn.Module, args: tuple, out) -> int:
    """MACs of one layer call from its input and output shapes."""
    if isinstance(module, nn.ConvTranspose):
        k = math.prod(module.kernel_size)
        return math.prod(args[0].shape[:-1]) * k * args[0].shape[-1] * module.features
    if isinstance(module, nn.Conv):
        k = math.prod(module.kernel_size)
        per_output = k * args[0].shape[-1] // module.feature_group_count
        return math.prod(out.shape) * per_output
    if isinstance(module, nn.Dense):
        return math.prod(out.shape) * args[0].shape[-1]
    if isinstance(module, GDN):
        return math.prod(out.shape) * out.shape[-1]
    if isinstance(module, MaskedConv):  # only the active (causal) taps
        return math.prod(out.shape) * int(causal_mask(module.kernel).sum()) * args[0].shape[-1]
    return 0


def macs_per_pixel(config: ModelConfig, height: int = 256, width: int = 256) -> dict[str, float]:
    """Multiply-accumulates per image pixel of every component, for one forward pass.

    Counts convolutions (the active taps of the masked one), dense layers and the GDN
    normalisation matmul; element-wise work is left out. Evaluated abstractly at
    ``height x width`` (all convolutions are 'same', so the result hardly depends on it).
    """
    model = AsymmetricModel(config)
    totals: dict[str, float] = defaultdict(float)

    def count(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            path = context.module.path
            if path:
                totals[path[0]] += _layer_macs(context.module, args, out)
        return out

    params = param_shapes(config)
    x = jax.ShapeDtypeStruct((1, height, width, 3), jnp.float32)
    level = jnp.zeros((1,), jnp.float32) if config.variable_rate else None
    with nn.intercept_methods(count):
        jax.eval_shape(lambda p, x: model.apply({"params": p}, x, train=False, level=level),
                       params, x)
    pixels = height * width
    return {name: totals.get(name, 0.0) / pixels for name in COMPONENTS}


def summary(config: ModelConfig) -> dict:
    """Parameters and MACs/pixel per component, with encoder and decoder totals."""
    params = parameter_counts(config)
    macs = macs_per_pixel(config)
    return {
        "config": config.to_dict(),
        "parameters": {**params, "total": sum(params.values())},
        "macs_per_pixel": {
            **macs,
            "encoder": sum(macs[c] for c in ENCODER),
            "decoder": sum(macs[c] for c in DECODER),
        },
    }

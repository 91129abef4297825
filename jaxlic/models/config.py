"""Model hyperparameters: a frozen dataclass with the paper's presets."""

from __future__ import annotations

import dataclasses
from typing import Any


# Fields added after models were released, written by ``to_dict`` only when set.
LATE_FIELDS = ("transform_channels",)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of the asymmetric codec (spec sections 3 and 9).

    Attributes:
      latent_channels: M, channels of y (128 at low rates, 256 at high rates).
      transform_channels: N, the width of g_a, g_s and the hyperprior and the channels of
        z; None (the paper's models) means N = M, and N = M is stored as None. A latent
        wider than the transforms is Ballé et al.'s (2018) and CompressAI's layout (e.g.
        N = 128, M = 192), the cheap way to raise the quality a narrow model can reach at
        high rates.
      ep_hidden: width of the entropy-parameter head (640 in the paper for both N).
      mixture_components: K of the Gaussian mixture.
      context_kernel: size of the type-A masked context convolution.
      importance_map: multiply y by the learned importance map (spec 3.2).
      use_pqf: apply the post-quantisation filter before g_s (spec 3.8; the released
        code has none).
      clip_latent: clip y_tilde to [-255, 256] in training (Cheng's quirk, spec A10).
      stop_gradient_hyper: stop the gradient at the input of h_a in training (spec A10).
      scale_bound: lower bound of the mixture scales (spec A11).
      rate_levels: quality levels of a variable-rate model (gain units on y and z, Cui et
        al. 2021); 0 for a model trained at one lambda, as in the paper.
    """

    latent_channels: int = 128
    transform_channels: int | None = None
    ep_hidden: int = 640
    mixture_components: int = 3
    context_kernel: int = 5
    importance_map: bool = True
    use_pqf: bool = True
    clip_latent: bool = True
    stop_gradient_hyper: bool = True
    scale_bound: float = 0.11
    rate_levels: int = 0

    def __post_init__(self):
        if self.latent_channels < 2 or self.latent_channels % 2:
            raise ValueError(f"latent_channels must be even and >= 2, got {self.latent_channels}")
        if self.transform_channels is not None and (
                self.transform_channels < 2 or self.transform_channels % 2):
            raise ValueError("transform_channels must be None, or even and >= 2, got "
                             f"{self.transform_channels}")
        if self.transform_channels == self.latent_channels:  # one model, one description
            object.__setattr__(self, "transform_channels", None)
        if self.context_kernel % 2 == 0:
            raise ValueError(f"context_kernel must be odd, got {self.context_kernel}")
        if self.rate_levels == 1 or self.rate_levels < 0:
            raise ValueError(f"rate_levels must be 0 (fixed rate) or >= 2, got {self.rate_levels}")

    @property
    def transform_width(self) -> int:
        """N: channels of g_a, g_s, the hyperprior and z."""
        return self.transform_channels or self.latent_channels

    @property
    def variable_rate(self) -> bool:
        """Whether the model has gain units (one model for ``rate_levels`` qualities)."""
        return self.rate_levels > 0

    @classmethod
    def n128(cls) -> "ModelConfig":
        """Low-rate model of the paper (lambda 0.0016 to 0.0075; MS-SSIM 12, 40)."""
        return cls(latent_channels=128)

    @classmethod
    def n64(cls) -> "ModelConfig":
        """Half width of the paper's N=128 model (N=64, head 320): the same architecture at
        about a third of the compute, for CPU-budget training."""
        return cls(latent_channels=64, ep_hidden=320)

    @classmethod
    def n256(cls) -> "ModelConfig":
        """High-rate model of the paper (lambda 0.015 to 0.045; MS-SSIM 80, 120)."""
        return cls(latent_channels=256)

    @classmethod
    def tiny(cls) -> "ModelConfig":
        """A few-hundred-thousand-parameter model for tests and CPU smoke runs."""
        return cls(latent_channels=16, ep_hidden=48)

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        """``"n64"``, ``"n128"``, ``"n256"`` or ``"tiny"``."""
        presets = {"n64": cls.n64, "n128": cls.n128, "n256": cls.n256, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown model preset {name!r}; choose from {sorted(presets)}")
        return presets[name]()

    def to_dict(self) -> dict[str, Any]:
        """The fields, leaving out those of ``LATE_FIELDS`` that hold their default: the
        dictionary of a model that does not use a later field is the one it had before the
        field existed, so weights files and their model ids stay the same."""
        d = dataclasses.asdict(self)
        for name in LATE_FIELDS:
            if d[name] is None:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        return cls(**d)

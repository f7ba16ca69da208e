"""The one interface that training, evaluation and the IDC method see for any SR network."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn


class ModelLoadError(ValueError):
    """A checkpoint is missing, unreadable, corrupt, or of an unsupported kind."""


class SRModel(nn.Module):
    """A super-resolution network: N x 3 x h x w in [0, 1] -> N x 3 x (h*scale) x (w*scale).

    `forward` does not clamp, so that gradients reach every output pixel during training;
    evaluation clamps. `extract_features` returns the body's output just before the up-sampler
    (N x feature_channels x h x w), the feature map that IDC matches between real and synthetic
    patches. `config` holds the constructor arguments (JSON-serialisable) that rebuild the network.
    """

    scale: int
    arch: str
    config: dict[str, Any]
    feature_channels: int

    def forward(self, lr: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extract_features(self, lr: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a manifest records about this model."""
        return {
            "arch": self.arch,
            "scale": self.scale,
            "config": self.config,
            "feature_channels": self.feature_channels,
            "parameters": sum(p.numel() for p in self.parameters()),
        }

"""EDSR (Lim et al., CVPR 2017 workshops): BasicSR's `EDSR` exactly, and our CPU-sized variant.

`EDSR` (`edsr-baseline`) is `basicsr/archs/edsr_arch.py`, module names and forward included:
mean shift by `rgb_mean` and scaling by `img_range` -> `conv_first` -> residual blocks
(`ResidualBlockNoBN`: conv-ReLU-conv scaled by `res_scale`) -> `conv_after_body` -> + head (long
skip) -> pixel-shuffle `upsample` -> `conv_last` -> shift back. Its state dict loads into BasicSR's
`EDSR` with `strict=True` and gives the same outputs, and BasicSR's EDSR checkpoints load into it.

`BicubicResidualEDSR` (`edsr-tiny`) is the calibration student of docs/method-choices.md: the same body without
mean shift, predicting the residual over a bicubic up-sampling of its input, which makes a small
network useful after few iterations. Its outputs differ from BasicSR's EDSR for the same weights,
so its state dict carries one extra tensor, `residual_over_bicubic`: BasicSR's strict loading
refuses it ("Unexpected key"), and our loader tells the two layouts apart by it.

Feature layer (`extract_features`): the up-sampler's input, i.e. `conv_after_body(body(h)) + h`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.models.base import SRModel

SUPPORTED_SCALES = (2, 3, 4)
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
# The state-dict key that marks `BicubicResidualEDSR` weights (see the module docstring).
BICUBIC_RESIDUAL_MARKER = "residual_over_bicubic"


class ResidualBlock(nn.Module):
    """BasicSR's `ResidualBlockNoBN`: conv-ReLU-conv with an identity skip, residual scaled."""

    def __init__(self, num_feat: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


def pixel_shuffle_upsampler(scale: int, num_feat: int) -> nn.Sequential:
    """x2 stages for powers of two, one x3 stage for 3 (BasicSR's `Upsample`)."""
    layers: list[nn.Module] = []
    if scale == 3:
        layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
    else:
        for _ in range(int(math.log2(scale))):
            layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
    return nn.Sequential(*layers)


class EDSR(SRModel):
    """BasicSR's EDSR (3 input and output channels); see the module docstring."""

    def __init__(
        self,
        scale: int,
        arch: str = "edsr-baseline",
        num_feat: int = 64,
        num_block: int = 16,
        res_scale: float = 1.0,
        img_range: float = 255.0,
        rgb_mean: Sequence[float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"EDSR supports scales {SUPPORTED_SCALES}, got {scale}")
        if num_feat < 1 or num_block < 0:
            raise ValueError(
                f"num_feat must be >= 1 and num_block >= 0, got {num_feat}, {num_block}"
            )
        if len(rgb_mean) != 3:
            raise ValueError(f"rgb_mean needs 3 values, got {list(rgb_mean)}")
        self.scale = scale
        self.arch = arch
        self.feature_channels = num_feat
        self.config = {
            "num_feat": num_feat,
            "num_block": num_block,
            "res_scale": float(res_scale),
            "img_range": float(img_range),
            "rgb_mean": [float(v) for v in rgb_mean],
        }
        self.img_range = float(img_range)
        # A buffer, not a parameter: it moves with .to(device) but is not trained or saved
        # (BasicSR keeps it as a plain attribute, outside the state dict).
        mean = torch.tensor([float(v) for v in rgb_mean]).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.conv_first = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlock(num_feat, res_scale) for _ in range(num_block)))
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = pixel_shuffle_upsampler(scale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)

    def extract_features(self, lr: Tensor) -> Tensor:
        head = self.conv_first((lr - self.mean) * self.img_range)
        return self.conv_after_body(self.body(head)) + head

    def forward(self, lr: Tensor) -> Tensor:
        return self.conv_last(self.upsample(self.extract_features(lr))) / self.img_range + self.mean


class BicubicResidualEDSR(EDSR):
    """EDSR's layers without mean shift, predicting the residual over bicubic up-sampling."""

    def __init__(
        self,
        scale: int,
        arch: str = "edsr-tiny",
        num_feat: int = 32,
        num_block: int = 4,
        res_scale: float = 1.0,
        img_range: float = 255.0,
    ) -> None:
        super().__init__(scale, arch, num_feat, num_block, res_scale, img_range, (0.0, 0.0, 0.0))
        del self.config["rgb_mean"]  # fixed at zero: not a setting of this network
        # Saved with the weights, so that they cannot pass for BasicSR's EDSR (module docstring).
        self.register_buffer(BICUBIC_RESIDUAL_MARKER, torch.ones(()))

    def forward(self, lr: Tensor) -> Tensor:
        out = self.conv_last(self.upsample(self.extract_features(lr))) / self.img_range
        return out + F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)

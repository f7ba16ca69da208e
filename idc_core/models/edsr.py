"""EDSR (Lim et al., CVPR 2017 workshops) laid out as BasicSR's `EDSR`, module names included.

head conv -> residual blocks (conv-ReLU-conv, scaled by `res_scale`) -> body conv -> + head
(global skip) -> pixel-shuffle up-sampler -> tail conv. With `rgb_mean` set, the input is
mean-shifted and scaled by `img_range` as in BasicSR. With `bicubic_skip`, the network predicts
the residual over a bicubic up-sampling of its input (the calibration student of docs/method-choices.md), which
makes a small network useful after few iterations.

Feature layer (`extract_features`): the up-sampler's input, i.e. `conv_after_body(body(h)) + h`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.models.base import SRModel
from idc_core.spec.patches import SUPPORTED_SCALES


class ResidualBlock(nn.Module):
    """conv-ReLU-conv with an identity skip and no batch norm; the residual is scaled."""

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
    """EDSR with optional mean shift and optional bicubic skip; see the module docstring."""

    def __init__(
        self,
        scale: int,
        arch: str = "edsr",
        num_feat: int = 64,
        num_block: int = 16,
        res_scale: float = 1.0,
        img_range: float = 255.0,
        rgb_mean: tuple[float, float, float] | list[float] | None = (0.4488, 0.4371, 0.4040),
        bicubic_skip: bool = False,
    ) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"EDSR supports scales {SUPPORTED_SCALES}, got {scale}")
        if num_feat < 1 or num_block < 0:
            raise ValueError(
                f"num_feat must be >= 1 and num_block >= 0, got {num_feat}, {num_block}"
            )
        self.scale = scale
        self.arch = arch
        self.feature_channels = num_feat
        self.config = {
            "num_feat": num_feat,
            "num_block": num_block,
            "res_scale": float(res_scale),
            "img_range": float(img_range),
            "rgb_mean": None if rgb_mean is None else [float(v) for v in rgb_mean],
            "bicubic_skip": bool(bicubic_skip),
        }
        self.img_range = float(img_range)
        self.bicubic_skip = bool(bicubic_skip)
        mean = torch.zeros(1, 3, 1, 1) if rgb_mean is None else torch.tensor(rgb_mean)
        # A buffer, not a parameter: it moves with .to(device) but is not trained or saved.
        self.register_buffer("mean", mean.view(1, 3, 1, 1).float(), persistent=False)
        self.conv_first = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlock(num_feat, res_scale) for _ in range(num_block)))
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = pixel_shuffle_upsampler(scale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)

    def extract_features(self, lr: Tensor) -> Tensor:
        head = self.conv_first((lr - self.mean) * self.img_range)
        return self.conv_after_body(self.body(head)) + head

    def forward(self, lr: Tensor) -> Tensor:
        out = self.conv_last(self.upsample(self.extract_features(lr))) / self.img_range
        if self.bicubic_skip:
            return out + F.interpolate(
                lr, scale_factor=self.scale, mode="bicubic", align_corners=False
            )
        return out + self.mean

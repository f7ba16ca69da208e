"""Overlapping HR/LR patch pairs cut from one image: one image is one IDC instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, model_validator

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample

SUPPORTED_SCALES = (2, 3, 4)


class ImageTooSmallError(ValueError):
    """The image is smaller than one HR patch, so it yields no instance."""


class PatchSettings(BaseModel):
    """How HR patches are cut: the paper's 256 x 256 HR crops with a step of 128 by default."""

    patch_size: int = Field(256, ge=8, description="HR patch side in pixels")
    step: int = Field(128, ge=1, description="stride between HR patches in pixels")
    scale: int = Field(4, description="super-resolution factor: 2, 3 or 4")

    @model_validator(mode="after")
    def _check(self) -> PatchSettings:
        if self.scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {self.scale}")
        if self.patch_size % self.scale or self.step % self.scale:
            raise ValueError(
                f"patch_size ({self.patch_size}) and step ({self.step}) must be multiples of "
                f"scale ({self.scale}) so that LR patches align with HR patches"
            )
        return self

    @property
    def lr_patch_size(self) -> int:
        return self.patch_size // self.scale


@dataclass
class Instance:
    """All patch pairs of one image: `hr` is N x P x P x 3 and `lr` is N x P/s x P/s x 3, uint8."""

    name: str
    hr: np.ndarray
    lr: np.ndarray

    def __len__(self) -> int:
        return len(self.hr)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so that both sides are multiples of `scale`."""
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def crop_positions(length: int, patch: int, step: int) -> list[int]:
    """Start offsets along one axis, with a last patch flush to the border (as BasicSR crops)."""
    if length < patch:
        return []
    starts = list(range(0, length - patch + 1, step))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def make_instance(name: str, image: np.ndarray, settings: PatchSettings) -> Instance:
    """Cut aligned HR and LR patches; LR comes from down-sampling the whole image once."""
    scale, patch = settings.scale, settings.patch_size
    hr_image = modcrop(image, scale)
    height, width = hr_image.shape[:2]
    ys, xs = (
        crop_positions(height, patch, settings.step),
        crop_positions(width, patch, settings.step),
    )
    if not ys or not xs:
        raise ImageTooSmallError(
            f"{name}: {width}x{height} pixels is smaller than one {patch}x{patch} HR patch"
        )
    lr_image = bicubic_downsample(hr_image, scale)
    lr_patch = patch // scale
    hr = np.stack([hr_image[y : y + patch, x : x + patch] for y in ys for x in xs])
    lr = np.stack(
        [
            lr_image[y // scale : y // scale + lr_patch, x // scale : x // scale + lr_patch]
            for y in ys
            for x in xs
        ]
    )
    return Instance(name=name, hr=hr, lr=lr)


def load_instance(path: str | Path, settings: PatchSettings) -> Instance:
    """Read one image file and cut it into an instance named after the file's stem."""
    path = Path(path)
    return make_instance(path.stem, load_rgb(path), settings)

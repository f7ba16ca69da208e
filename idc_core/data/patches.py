"""Overlapping HR/LR patch pairs cut from one image: one image is one IDC instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample
from idc_core.spec.patches import PatchSettings as PatchSettings  # defined in the torch-free spec


class ImageTooSmallError(ValueError):
    """The image is smaller than one HR patch, so it yields no instance."""


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

"""Evaluate an SR model on test-set folders (Set5, Set14, ...) the way SR papers do.

Each HR image is mod-cropped to a multiple of the scale, its LR input is the MATLAB-style bicubic
down-sampling of that crop, the model's output is clamped and rounded to 8 bits, and PSNR/SSIM are
taken on the Y channel with `scale` pixels cropped from every border. Grey images are read as RGB
with three equal channels, so their Y is the grey level mapped to [16, 235].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from idc_core.data.images import list_images, load_rgb
from idc_core.data.patches import modcrop
from idc_core.data.resize import bicubic_downsample, imresize
from idc_core.evaluation.metrics import psnr_y, ssim_y
from idc_core.models.base import SRModel


@dataclass
class ImageScore:
    name: str
    psnr: float
    ssim: float


@dataclass
class EvalResult:
    """Scores of one test folder: per image and the mean over its images."""

    folder: str
    scale: int
    crop_border: int
    images: list[ImageScore] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.folder).name

    @property
    def mean_psnr(self) -> float:
        return float(np.mean([s.psnr for s in self.images]))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean([s.ssim for s in self.images]))

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "name": self.name,
            "mean_psnr": self.mean_psnr,
            "mean_ssim": self.mean_ssim,
        }


@dataclass
class TestImage:
    name: str
    hr: np.ndarray  # mod-cropped, uint8 H x W x 3
    lr: np.ndarray  # bicubic down-sampled, uint8


def load_test_images(folder: str | Path, scale: int) -> list[TestImage]:
    """Every image of `folder` as a mod-cropped HR and its bicubic LR."""
    images = []
    for path in list_images(folder):
        hr = modcrop(load_rgb(path), scale)
        images.append(TestImage(path.stem, hr, bicubic_downsample(hr, scale)))
    return images


@torch.no_grad()
def super_resolve(model: SRModel, lr: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """One uint8 LR image -> uint8 SR image (clamped to [0, 1], rounded as BasicSR's tensor2img)."""
    tensor = torch.tensor(lr, device=device).permute(2, 0, 1)[None].float() / 255.0
    sr = model(tensor)[0].clamp(0, 1).mul(255).round().byte()
    return sr.permute(1, 2, 0).cpu().numpy()


def _score(name: str, sr: np.ndarray, hr: np.ndarray, crop_border: int) -> ImageScore:
    return ImageScore(name, psnr_y(sr, hr, crop_border), ssim_y(sr, hr, crop_border))


def _check_scale(model: SRModel, scale: int) -> None:
    if model.scale != scale:
        raise ValueError(f"the model is x{model.scale}, the evaluation asks for x{scale}")


def evaluate_model(
    model: SRModel,
    folder: str | Path,
    scale: int,
    device: str | torch.device = "cpu",
    on_image: Callable[[ImageScore], None] | None = None,
) -> EvalResult:
    """Y-PSNR/SSIM of `model` on every image of `folder`; `on_image` sees each score."""
    _check_scale(model, scale)
    was_training = model.training
    model.to(device).eval()
    result = EvalResult(str(folder), scale, crop_border=scale)
    try:
        for image in load_test_images(folder, scale):
            score = _score(image.name, super_resolve(model, image.lr, device), image.hr, scale)
            result.images.append(score)
            if on_image is not None:
                on_image(score)
    finally:
        model.train(was_training)
    return result


def evaluate_folders(
    model: SRModel,
    folders: Sequence[str | Path],
    scale: int,
    device: str | torch.device = "cpu",
) -> list[EvalResult]:
    """`evaluate_model` on several test sets, in order."""
    return [evaluate_model(model, folder, scale, device) for folder in folders]


def evaluate_bicubic(folder: str | Path, scale: int) -> EvalResult:
    """The "Bicubic" row of SR tables: the LR input up-sampled by MATLAB-style bicubic."""
    result = EvalResult(str(folder), scale, crop_border=scale)
    for image in load_test_images(folder, scale):
        up = np.clip(np.round(imresize(image.lr.astype(np.float64), scale)), 0, 255)
        result.images.append(_score(image.name, up.astype(np.uint8), image.hr, scale))
    return result


def make_validator(
    folder: str | Path, scale: int, device: str | torch.device = "cpu"
) -> Callable[[SRModel], dict[str, float]]:
    """A `validate(model)` for training: mean Y-PSNR/SSIM on `folder`, images loaded once."""
    images = load_test_images(folder, scale)

    def validate(model: SRModel) -> dict[str, float]:
        _check_scale(model, scale)
        scores = [_score(i.name, super_resolve(model, i.lr, device), i.hr, scale) for i in images]
        return {
            "psnr_y": float(np.mean([s.psnr for s in scores])),
            "ssim_y": float(np.mean([s.ssim for s in scores])),
        }

    return validate

"""Evaluate an SR model on test-set folders (Set5, Set14, ...) the way SR papers do.

Each HR image is mod-cropped to a multiple of the scale, its LR input is the MATLAB-style bicubic
down-sampling of that crop, the model's output is clamped and rounded to 8 bits, and PSNR/SSIM are
taken on the luma channel with `scale` pixels cropped from every border, in one of the two
conventions of `metrics` (`matlab` by default; grey images are read as three equal channels for
the model and remembered as grey for the `matlab` convention). Every result names its convention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from idc_core import progress
from idc_core.data.images import GREY_MODES, list_images, load_rgb
from idc_core.data.patches import modcrop
from idc_core.data.resize import bicubic_downsample, imresize
from idc_core.evaluation.metrics import (
    DEFAULT_CONVENTION,
    Convention,
    check_convention,
    psnr_y,
    ssim_y,
)
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
    convention: str = DEFAULT_CONVENTION
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
    grey: bool  # the file has one channel (the `matlab` convention scores its grey levels)


def is_grey_file(path: str | Path) -> bool:
    """Whether the image file holds one channel (grey, or grey with alpha)."""
    with Image.open(path) as image:
        return image.mode in GREY_MODES


def load_test_images(folder: str | Path, scale: int) -> list[TestImage]:
    """Every image of `folder` as a mod-cropped HR and its bicubic LR."""
    paths = list_images(folder)
    images = []
    with progress.task(f"loading {Path(folder).name}", len(paths), "images") as task:
        for path in paths:
            hr = modcrop(load_rgb(path), scale)
            images.append(
                TestImage(path.stem, hr, bicubic_downsample(hr, scale), is_grey_file(path))
            )
            task.advance()
    return images


@torch.no_grad()
def super_resolve(model: SRModel, lr: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """One uint8 LR image -> uint8 SR image (clamped to [0, 1], rounded as BasicSR's tensor2img)."""
    tensor = torch.tensor(lr, device=device).permute(2, 0, 1)[None].float() / 255.0
    sr = model(tensor)[0].clamp(0, 1).mul(255).round().byte()
    return sr.permute(1, 2, 0).cpu().numpy()


def _score(
    image: TestImage, sr: np.ndarray, crop_border: int, convention: Convention
) -> ImageScore:
    return ImageScore(
        image.name,
        psnr_y(sr, image.hr, crop_border, convention, image.grey),
        ssim_y(sr, image.hr, crop_border, convention, image.grey),
    )


def _score_all(
    description: str,
    images: list[TestImage],
    make_sr: Callable[[TestImage], np.ndarray],
    result: EvalResult,
    on_image: Callable[[ImageScore], None] | None = None,
    also: Sequence[EvalResult] = (),
) -> EvalResult:
    """Score every image into `result` (and into each of `also`, in its own convention, from the
    same SR output: super-resolving is the costly part), as one progress task."""
    results = [result, *also]
    conventions = [check_convention(r.convention) for r in results]
    with progress.task(description, len(images), "images") as task:
        for image in images:
            sr = make_sr(image)
            for target, convention in zip(results, conventions, strict=True):
                target.images.append(_score(image, sr, target.crop_border, convention))
            score = result.images[-1]
            if on_image is not None:
                on_image(score)
            task.advance(info=f"{image.name} {score.psnr:.2f} dB")
    return result


def _check_scale(model: SRModel, scale: int) -> None:
    if model.scale != scale:
        raise ValueError(f"the model is x{model.scale}, the evaluation asks for x{scale}")


def evaluate_model(
    model: SRModel,
    folder: str | Path,
    scale: int,
    device: str | torch.device = "cpu",
    on_image: Callable[[ImageScore], None] | None = None,
    convention: Convention = DEFAULT_CONVENTION,
) -> EvalResult:
    """PSNR/SSIM of `model` on every image of `folder`; `on_image` sees each score."""
    return evaluate_model_by_convention(model, folder, scale, device, [convention], on_image)[
        convention
    ]


def evaluate_model_by_convention(
    model: SRModel,
    folder: str | Path,
    scale: int,
    device: str | torch.device,
    conventions: Sequence[Convention],
    on_image: Callable[[ImageScore], None] | None = None,
) -> dict[str, EvalResult]:
    """`evaluate_model` in several conventions at once: each image is super-resolved once and
    its output scored in every convention; `on_image` sees the first convention's scores."""
    _check_scale(model, scale)
    if not conventions:
        raise ValueError("name at least one convention")
    results: dict[str, EvalResult] = {
        c: EvalResult(str(folder), scale, scale, check_convention(c))
        for c in dict.fromkeys(conventions)
    }
    first, *others = results.values()
    images = load_test_images(folder, scale)
    was_training = model.training
    model.to(device).eval()
    try:
        _score_all(
            f"{getattr(model, 'arch', 'model')} on {first.name}",
            images,
            lambda image: super_resolve(model, image.lr, device),
            first,
            on_image,
            also=others,
        )
    finally:
        model.train(was_training)
    return results


def evaluate_folders(
    model: SRModel,
    folders: Sequence[str | Path],
    scale: int,
    device: str | torch.device = "cpu",
    convention: Convention = DEFAULT_CONVENTION,
) -> list[EvalResult]:
    """`evaluate_model` on several test sets, in order."""
    return [
        evaluate_model(model, folder, scale, device, convention=convention) for folder in folders
    ]


def bicubic_upsample(lr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB's `imresize(lr, scale)` of a uint8 image, rounded back to uint8."""
    up = imresize(lr.astype(np.float64), scale)
    return np.clip(np.floor(up + 0.5), 0, 255).astype(np.uint8)


def evaluate_bicubic(
    folder: str | Path, scale: int, convention: Convention = DEFAULT_CONVENTION
) -> EvalResult:
    """The "Bicubic" row of SR tables: the LR input up-sampled by MATLAB-style bicubic."""
    result = EvalResult(str(folder), scale, scale, check_convention(convention))
    images = load_test_images(folder, scale)
    return _score_all(
        f"bicubic on {result.name}",
        images,
        lambda image: bicubic_upsample(image.lr, scale),
        result,
    )


def make_validator(
    folder: str | Path,
    scale: int,
    device: str | torch.device = "cpu",
    convention: Convention = DEFAULT_CONVENTION,
) -> Callable[[SRModel], dict[str, float]]:
    """A `validate(model)` for training: mean PSNR/SSIM on `folder`, images loaded once."""
    images = load_test_images(folder, scale)
    name = Path(folder).name
    check_convention(convention)

    def validate(model: SRModel) -> dict[str, float]:
        _check_scale(model, scale)
        result = _score_all(
            f"validation on {name}",
            images,
            lambda image: super_resolve(model, image.lr, device),
            EvalResult(str(folder), scale, scale, convention),
        )
        return {"psnr_y": result.mean_psnr, "ssim_y": result.mean_ssim}

    return validate

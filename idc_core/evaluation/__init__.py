"""PSNR/SSIM on the Y channel as the SR literature reports them, and test-set evaluation."""

from idc_core.evaluation.evaluate import (
    EvalResult,
    ImageScore,
    evaluate_bicubic,
    evaluate_folders,
    evaluate_model,
    make_validator,
    super_resolve,
)
from idc_core.evaluation.metrics import psnr_y, rgb_to_y, ssim_y

__all__ = [
    "EvalResult",
    "ImageScore",
    "evaluate_bicubic",
    "evaluate_folders",
    "evaluate_model",
    "make_validator",
    "psnr_y",
    "rgb_to_y",
    "ssim_y",
    "super_resolve",
]

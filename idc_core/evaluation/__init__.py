"""PSNR/SSIM as the SR literature reports them (MATLAB or BasicSR convention), and test-set
evaluation."""

from idc_core.evaluation.evaluate import (
    EvalResult,
    ImageScore,
    bicubic_upsample,
    evaluate_bicubic,
    evaluate_folders,
    evaluate_model,
    evaluate_model_by_convention,
    make_validator,
    super_resolve,
)
from idc_core.evaluation.metrics import (
    CONVENTIONS,
    DEFAULT_CONVENTION,
    Convention,
    psnr_y,
    rgb_to_y,
    scored_channel,
    ssim_y,
)

__all__ = [
    "CONVENTIONS",
    "DEFAULT_CONVENTION",
    "Convention",
    "EvalResult",
    "ImageScore",
    "bicubic_upsample",
    "evaluate_bicubic",
    "evaluate_folders",
    "evaluate_model",
    "evaluate_model_by_convention",
    "make_validator",
    "psnr_y",
    "rgb_to_y",
    "scored_channel",
    "ssim_y",
    "super_resolve",
]

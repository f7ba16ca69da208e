"""Super-resolution models: the `SRModel` contract, built-in EDSR presets, checkpoints, spandrel."""

from idc_core.models.base import SRModel
from idc_core.models.checkpoint import ModelLoadError, load_model, save_model
from idc_core.models.registry import ARCH_PRESETS, build_model

__all__ = ["ARCH_PRESETS", "ModelLoadError", "SRModel", "build_model", "load_model", "save_model"]

"""Named architectures that `build_model` and saved checkpoints refer to."""

from __future__ import annotations

from typing import Any

from idc_core.models.base import SRModel
from idc_core.models.edsr import EDSR

# Constructor arguments of each built-in architecture; `build_model` overrides take precedence.
ARCH_PRESETS: dict[str, dict[str, Any]] = {
    # EDSR-baseline of the EDSR paper (BasicSR's EDSR_Mx4 settings): 64 channels, 16 blocks.
    "edsr-baseline": {"num_feat": 64, "num_block": 16, "res_scale": 1.0, "bicubic_skip": False},
    # CPU-sized student/teacher of the calibration (docs/method-choices.md): 32 channels, 4 blocks, bicubic skip.
    "edsr-tiny": {
        "num_feat": 32,
        "num_block": 4,
        "res_scale": 1.0,
        "rgb_mean": None,
        "bicubic_skip": True,
    },
}


def build_model(arch: str, scale: int, **overrides: Any) -> SRModel:
    """A freshly initialised model of a built-in architecture (weights from torch's global RNG)."""
    if arch not in ARCH_PRESETS:
        raise ValueError(f"unknown architecture {arch!r}; built-in ones: {', '.join(ARCH_PRESETS)}")
    try:
        return EDSR(scale=scale, arch=arch, **{**ARCH_PRESETS[arch], **overrides})
    except TypeError as error:
        raise ValueError(f"bad settings for {arch}: {error}") from error

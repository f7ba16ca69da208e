"""Named architectures that `build_model` and saved checkpoints refer to."""

from __future__ import annotations

from typing import Any

from idc_core.models.base import SRModel
from idc_core.models.edsr import EDSR, BicubicResidualEDSR

# Class and constructor arguments of each built-in architecture; `build_model` overrides win.
ARCHITECTURES: dict[str, tuple[type[EDSR], dict[str, Any]]] = {
    # EDSR-baseline of the EDSR paper, i.e. BasicSR's EDSR_Mx* settings: 64 channels, 16 blocks.
    "edsr-baseline": (EDSR, {"num_feat": 64, "num_block": 16, "res_scale": 1.0}),
    # CPU-sized student/teacher of the calibration (docs/method-choices.md): 32 channels, 4 blocks, bicubic skip.
    "edsr-tiny": (BicubicResidualEDSR, {"num_feat": 32, "num_block": 4, "res_scale": 1.0}),
}
ARCH_PRESETS: dict[str, dict[str, Any]] = {
    name: preset for name, (_, preset) in ARCHITECTURES.items()
}


def build_model(arch: str, scale: int, **overrides: Any) -> SRModel:
    """A freshly initialised model of a built-in architecture (weights from torch's global RNG)."""
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {arch!r}; built-in ones: {', '.join(ARCHITECTURES)}"
        )
    cls, preset = ARCHITECTURES[arch]
    try:
        return cls(scale=scale, arch=arch, **{**preset, **overrides})
    except TypeError as error:
        raise ValueError(f"bad settings for {arch}: {error}") from error

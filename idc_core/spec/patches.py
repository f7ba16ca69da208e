"""How HR/LR patches are cut, and which images can give one: the SR scales and the patch rules."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field, model_validator

Scale = Literal[2, 3, 4]
SUPPORTED_SCALES: tuple[int, ...] = get_args(Scale)

PatchSize = Annotated[int, Field(ge=8, description="HR patch side in pixels")]
PatchStep = Annotated[int, Field(ge=1, description="stride between HR patches in pixels")]


class PatchSettings(BaseModel):
    """How HR patches are cut: the paper's 256 x 256 HR crops with a step of 128 by default."""

    patch_size: PatchSize = 256
    step: PatchStep = 128
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


def half_patch_step(patch_size: int, scale: int) -> int:
    """The default stride: half a patch, rounded down to a multiple of `scale` (at least one)."""
    return max(scale, patch_size // 2 // scale * scale)


def holds_patch(width: int, height: int, patch_size: int, scale: int) -> bool:
    """Whether an image of this size gives at least one HR patch once cropped to `scale`."""
    return min(width - width % scale, height - height % scale) >= patch_size

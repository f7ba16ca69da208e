"""How a super-resolution network is trained: one settings object, the named recipes, the
built-in architectures, and what training a teacher takes (`TeacherTraining`)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from idc_core.spec.patches import PatchSettings, half_patch_step

# The built-in architectures of `idc_core.models.registry` (its torch-free names; a test checks
# that they are the registry's).
Arch = Literal["edsr-tiny", "edsr-baseline"]
BUILTIN_ARCHS: tuple[str, ...] = get_args(Arch)


class TrainRecipe(BaseModel):
    """Every setting of `train_sr_model`. L1 loss and Adam are fixed; the rest is here."""

    model_config = ConfigDict(frozen=True)

    iterations: int = Field(3000, ge=1, description="optimiser steps")
    batch_size: int = Field(16, ge=1, description="pairs per step, drawn epoch by epoch")
    lr: float = Field(5e-4, gt=0, description="initial Adam learning rate")
    betas: tuple[float, float] = Field((0.9, 0.99), description="Adam betas (BasicSR's)")
    schedule: Literal["cosine", "step"] = Field("cosine", description="learning-rate schedule")
    lr_min: float = Field(1e-7, ge=0, description="cosine: final learning rate")
    step_milestones: tuple[float, ...] = Field(
        (0.5, 0.8, 0.9, 0.95), description="step: fractions of `iterations` where lr *= gamma"
    )
    step_gamma: float = Field(0.5, gt=0, le=1, description="step: factor at each milestone")
    augment: bool = Field(True, description="random horizontal/vertical flips and transposes")
    seed: int = Field(0, description="seeds batch order and augmentation")
    val_every: int = Field(0, ge=0, description="validate every N steps (0: only at the end)")

    @field_validator("step_milestones")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < m < 1 for m in value) or list(value) != sorted(value):
            raise ValueError("step_milestones must be increasing fractions in (0, 1)")
        return value


# Named recipes. The CPU ones follow the calibration of docs/method-choices.md (batch 16, Adam, cosine, 3,000 steps
# of an edsr-tiny student took about 5 minutes on two cores). lr 1.5e-3: an edsr-tiny trained on
# the whole T91 + BSD200 set for 2,000 steps reached Set5/Set14 30.52/27.59 dB with it (mean of
# two seeds), against 30.21/27.34 dB with 5e-4 (README.md, Benchmarks). The paper ones are
# BasicSR's SwinIR x4 schedule (500k steps, batch 32, lr 2e-4, halved at 250k/400k/450k/475k),
# the set-up IDC's students and teacher are trained with.
RECIPES: dict[str, TrainRecipe] = {
    "tiny": TrainRecipe(iterations=20, batch_size=4, lr=5e-4),
    "teacher-cpu": TrainRecipe(iterations=3000, batch_size=16, lr=1.5e-3),
    "student-cpu": TrainRecipe(iterations=3000, batch_size=16, lr=1.5e-3),
    "teacher-paper": TrainRecipe(iterations=500_000, batch_size=32, lr=2e-4, schedule="step"),
    "student-paper": TrainRecipe(iterations=500_000, batch_size=32, lr=2e-4, schedule="step"),
}


def get_recipe(name: str, **overrides: object) -> TrainRecipe:
    """A named recipe with some fields replaced (None values are ignored)."""
    if name not in RECIPES:
        raise ValueError(f"unknown training recipe {name!r}; known: {', '.join(RECIPES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return TrainRecipe.model_validate({**RECIPES[name].model_dump(), **changes})


class TeacherTraining(BaseModel):
    """A teacher to train on the images themselves, every value resolved: its architecture,
    the patches it learns from and the full recipe (the service stores this in its job spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Arch = "edsr-tiny"
    patch: PatchSettings
    recipe: TrainRecipe

    @classmethod
    def resolve(
        cls,
        arch: str,
        scale: int,
        patch_size: int,
        step: int | None,
        recipe: str,
        seed: int,
        **recipe_overrides: object,
    ) -> TeacherTraining:
        """`recipe` with its overrides (None = the recipe's) and `step` (None = half a patch)."""
        return cls.model_validate(
            {
                "arch": arch,
                "patch": PatchSettings(
                    patch_size=patch_size,
                    step=step or half_patch_step(patch_size, scale),
                    scale=scale,
                ),
                "recipe": get_recipe(recipe, seed=seed, **recipe_overrides),
            }
        )

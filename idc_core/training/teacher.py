"""Teacher training: every overlapping patch pair of a folder of images, then `train_sr_model`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from idc_core import progress
from idc_core.data.paired import PairedArrays
from idc_core.data.patches import ImageTooSmallError, PatchSettings, load_instance
from idc_core.models.base import SRModel
from idc_core.models.registry import build_model
from idc_core.training.loop import TrainHistory, TrainProgress, train_sr_model
from idc_core.training.recipe import TrainRecipe


def patches_from_images(image_paths: Sequence[str | Path], patch: PatchSettings) -> PairedArrays:
    """All HR/LR patch pairs of the images (images smaller than one patch are skipped)."""
    hr, lr, names = [], [], []
    with progress.task("cutting patches", len(image_paths), "images") as task:
        for path in image_paths:
            task.advance()
            try:
                instance = load_instance(path, patch)
            except ImageTooSmallError:
                continue
            hr.append(instance.hr)
            lr.append(instance.lr)
            names += [f"{instance.name}_{i:04d}" for i in range(len(instance))]
    if not hr:
        raise ValueError(
            f"none of the {len(image_paths)} images holds a {patch.patch_size}px HR patch"
        )
    return PairedArrays(hr=np.concatenate(hr), lr=np.concatenate(lr), names=names)


def train_teacher(
    image_paths: Sequence[str | Path],
    patch: PatchSettings,
    recipe: TrainRecipe,
    arch: str = "edsr-tiny",
    device: str | torch.device = "cpu",
    on_progress: Callable[[TrainProgress], None] | None = None,
    validate: Callable[[SRModel], dict[str, float]] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[SRModel, TrainHistory]:
    """A new `arch` model at `patch.scale`, initialised from `recipe.seed`, trained on the images."""
    pairs = patches_from_images(image_paths, patch)
    with torch.random.fork_rng(devices=[]):  # seed the weights without touching global RNG state
        torch.manual_seed(recipe.seed)
        model = build_model(arch, patch.scale)
    history = train_sr_model(
        model, pairs, recipe, device, on_progress, validate, should_stop, description="teacher"
    )
    return model, history

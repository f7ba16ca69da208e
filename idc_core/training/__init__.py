"""Training SR networks (teachers on real patches, students on condensed sets)."""

from idc_core.spec.training import RECIPES, TrainRecipe, get_recipe
from idc_core.training.loop import (
    TrainHistory,
    TrainingCancelled,
    TrainProgress,
    train_sr_model,
)
from idc_core.training.teacher import patches_from_images, train_teacher

__all__ = [
    "RECIPES",
    "TrainHistory",
    "TrainProgress",
    "TrainRecipe",
    "TrainingCancelled",
    "get_recipe",
    "patches_from_images",
    "train_sr_model",
    "train_teacher",
]

"""The torch-free part of idc_core: what a job is, before any tensor exists.

The service's API imports only this (and `idc_core.method.settings`, which it re-exports): the SR
scales and patch rules, the methods and which need a teacher, the condensation job, the IDC
settings and presets, architectures and training recipes, a teacher to train, and the output
layout. Everything here is pydantic and the standard library; a test proves that importing it
loads none of the `core` extra (torch, scikit-learn, ...).
"""

from idc_core.method.settings import PRESETS, IDCSettings, build_settings
from idc_core.spec.job import (
    METHODS,
    SELECTION_METHODS,
    CondenseJob,
    Method,
    ProgressEvent,
    Ratio,
    Seed,
    SelectionMethod,
    needs_teacher,
)
from idc_core.spec.layout import (
    DATASET_ENTRIES,
    HR_DIR,
    LR_DIR,
    LR_FLOAT_DIR,
    MANIFEST,
    MARKER_DIR,
    META_INFO,
    InstanceRecord,
    instance_files,
    is_pair_file_of,
    marker_file,
    pair_stem,
)
from idc_core.spec.patches import (
    SUPPORTED_SCALES,
    PatchSettings,
    PatchSize,
    PatchStep,
    Scale,
    half_patch_step,
    holds_patch,
)
from idc_core.spec.training import (
    BUILTIN_ARCHS,
    RECIPES,
    Arch,
    TeacherTraining,
    TrainRecipe,
    get_recipe,
)

__all__ = [
    "BUILTIN_ARCHS",
    "DATASET_ENTRIES",
    "HR_DIR",
    "LR_DIR",
    "LR_FLOAT_DIR",
    "MANIFEST",
    "MARKER_DIR",
    "META_INFO",
    "METHODS",
    "PRESETS",
    "RECIPES",
    "SELECTION_METHODS",
    "SUPPORTED_SCALES",
    "Arch",
    "CondenseJob",
    "IDCSettings",
    "InstanceRecord",
    "Method",
    "PatchSettings",
    "PatchSize",
    "PatchStep",
    "ProgressEvent",
    "Ratio",
    "Scale",
    "Seed",
    "SelectionMethod",
    "TeacherTraining",
    "TrainRecipe",
    "build_settings",
    "get_recipe",
    "half_patch_step",
    "holds_patch",
    "instance_files",
    "is_pair_file_of",
    "marker_file",
    "needs_teacher",
    "pair_stem",
]

"""The public face of idc_core: what the `idc` CLI, the Celery workers and the benchmarks call.

job = CondenseJob(method="idc", ratio=0.1, patch=PatchSettings(patch_size=64, step=32))
teacher = load_model("teacher.safetensors")
records = condense_images(list_images("photos"), "out", job, teacher, on_progress=print)
finalize_dataset("out", job, describe_teacher(teacher, "teacher.safetensors"), sources)

Importing this module imports torch. What a job is, without torch, is `idc_core.spec` (all of
which is re-exported here too).
"""

from idc_core.cancellation import Cancelled
from idc_core.condense_folder import check_images, condense_images, finalize_dataset, read_marker
from idc_core.data.images import ImageReadError, list_images, load_rgb
from idc_core.data.paired import PairedArrays, read_pairs, write_meta_info, write_pairs
from idc_core.data.patches import ImageTooSmallError, Instance, load_instance, make_instance
from idc_core.device import DeviceUnavailableError, resolve_device
from idc_core.evaluation import (
    CONVENTIONS,
    DEFAULT_CONVENTION,
    EvalResult,
    evaluate_bicubic,
    evaluate_model,
    evaluate_model_by_convention,
    make_validator,
)
from idc_core.manifest import describe_teacher, sources_digest
from idc_core.method.condense import (
    CondenseCancelled,
    CondensedInstance,
    condense_group,
    condense_instance,
    synthetic_count,
)
from idc_core.method.instance_state import patches_to_tensor
from idc_core.models import ModelLoadError, SRModel, build_model, load_model, save_model
from idc_core.spec import (
    BUILTIN_ARCHS,
    DATASET_ENTRIES,
    HR_DIR,
    LR_DIR,
    LR_FLOAT_DIR,
    MANIFEST,
    MARKER_DIR,
    META_INFO,
    METHODS,
    PRESETS,
    RECIPES,
    SELECTION_METHODS,
    SUPPORTED_SCALES,
    CondenseJob,
    IDCSettings,
    InstanceRecord,
    PatchSettings,
    ProgressEvent,
    TeacherTraining,
    TrainRecipe,
    build_settings,
    get_recipe,
    half_patch_step,
    instance_files,
    marker_file,
    needs_teacher,
    pair_stem,
)
from idc_core.training import (
    TrainHistory,
    TrainingCancelled,
    TrainProgress,
    train_sr_model,
    train_teacher,
)

__all__ = [
    "BUILTIN_ARCHS",
    "CONVENTIONS",
    "Cancelled",
    "CondenseCancelled",
    "CondenseJob",
    "CondensedInstance",
    "DATASET_ENTRIES",
    "DEFAULT_CONVENTION",
    "DeviceUnavailableError",
    "EvalResult",
    "HR_DIR",
    "IDCSettings",
    "ImageReadError",
    "ImageTooSmallError",
    "Instance",
    "InstanceRecord",
    "LR_DIR",
    "LR_FLOAT_DIR",
    "MANIFEST",
    "MARKER_DIR",
    "META_INFO",
    "METHODS",
    "ModelLoadError",
    "PRESETS",
    "PairedArrays",
    "PatchSettings",
    "ProgressEvent",
    "RECIPES",
    "SELECTION_METHODS",
    "SRModel",
    "SUPPORTED_SCALES",
    "TeacherTraining",
    "TrainHistory",
    "TrainProgress",
    "TrainRecipe",
    "TrainingCancelled",
    "build_model",
    "build_settings",
    "check_images",
    "condense_group",
    "condense_images",
    "condense_instance",
    "describe_teacher",
    "evaluate_bicubic",
    "evaluate_model",
    "evaluate_model_by_convention",
    "finalize_dataset",
    "get_recipe",
    "half_patch_step",
    "instance_files",
    "list_images",
    "load_instance",
    "load_model",
    "load_rgb",
    "make_instance",
    "make_validator",
    "marker_file",
    "needs_teacher",
    "pair_stem",
    "patches_to_tensor",
    "read_marker",
    "read_pairs",
    "resolve_device",
    "save_model",
    "sources_digest",
    "synthetic_count",
    "train_sr_model",
    "train_teacher",
    "write_meta_info",
    "write_pairs",
]

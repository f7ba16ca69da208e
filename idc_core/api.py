"""The public face of idc_core: what the CLI and the Celery workers call, and nothing else.

job = CondenseJob(method="idc", ratio=0.1, patch=PatchSettings(patch_size=64, step=32))
teacher = load_model("teacher.safetensors")
records = condense_images(list_images("photos"), "out", job, teacher, on_progress=print)
finalize_dataset("out", job, describe_teacher(teacher, "teacher.safetensors"), sources)
"""

from idc_core.baselines import METHODS as SELECTION_METHODS
from idc_core.data.images import ImageReadError, list_images
from idc_core.data.paired import (
    LR_FLOAT_DIR,
    PairedArrays,
    read_pairs,
    write_meta_info,
    write_pairs,
)
from idc_core.data.patches import ImageTooSmallError, Instance, PatchSettings, load_instance
from idc_core.device import DeviceUnavailableError, resolve_device
from idc_core.evaluation import CONVENTIONS, DEFAULT_CONVENTION, evaluate_model, make_validator
from idc_core.manifest import describe_teacher
from idc_core.method.condense import (
    CondenseCancelled,
    CondensedInstance,
    condense_instance,
    synthetic_count,
)
from idc_core.method.settings import PRESETS, IDCSettings, build_settings
from idc_core.models import ModelLoadError, SRModel, build_model, load_model, save_model
from idc_core.pipeline import condense_images, finalize_dataset
from idc_core.pipeline_job import CondenseJob, InstanceRecord, ProgressEvent
from idc_core.training import TrainRecipe, get_recipe, train_sr_model, train_teacher

__all__ = [
    "CONVENTIONS",
    "DEFAULT_CONVENTION",
    "CondenseCancelled",
    "CondenseJob",
    "CondensedInstance",
    "DeviceUnavailableError",
    "IDCSettings",
    "ImageReadError",
    "ImageTooSmallError",
    "Instance",
    "InstanceRecord",
    "LR_FLOAT_DIR",
    "ModelLoadError",
    "PRESETS",
    "PairedArrays",
    "PatchSettings",
    "ProgressEvent",
    "SELECTION_METHODS",
    "SRModel",
    "TrainRecipe",
    "build_model",
    "build_settings",
    "condense_images",
    "condense_instance",
    "describe_teacher",
    "evaluate_model",
    "finalize_dataset",
    "get_recipe",
    "list_images",
    "load_instance",
    "load_model",
    "make_validator",
    "read_pairs",
    "resolve_device",
    "save_model",
    "synthetic_count",
    "train_sr_model",
    "train_teacher",
    "write_meta_info",
    "write_pairs",
]

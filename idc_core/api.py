"""The public face of idc_core: what the CLI and the Celery workers call, and nothing else.

job = CondenseJob(method="idc", ratio=0.1, patch=PatchSettings(patch_size=64, step=32))
teacher = load_model("teacher.safetensors")
records = condense_images(list_images("photos"), "out", job, teacher, on_progress=print)
finalize_dataset("out", job, describe_teacher(teacher, "teacher.safetensors"), sources)
"""

from idc_core.data.images import ImageReadError, list_images
from idc_core.data.patches import ImageTooSmallError, PatchSettings
from idc_core.device import DeviceUnavailableError, resolve_device
from idc_core.manifest import describe_teacher
from idc_core.method.condense import CondenseCancelled, CondensedInstance, condense_instance
from idc_core.method.settings import PRESETS, IDCSettings, build_settings
from idc_core.models import ModelLoadError, SRModel, build_model, load_model, save_model
from idc_core.pipeline import condense_images, finalize_dataset
from idc_core.pipeline_job import CondenseJob, InstanceRecord, ProgressEvent
from idc_core.training import TrainRecipe, get_recipe, train_teacher

__all__ = [
    "PRESETS",
    "CondenseCancelled",
    "CondenseJob",
    "CondensedInstance",
    "DeviceUnavailableError",
    "IDCSettings",
    "ImageReadError",
    "ImageTooSmallError",
    "InstanceRecord",
    "ModelLoadError",
    "PatchSettings",
    "ProgressEvent",
    "SRModel",
    "TrainRecipe",
    "build_model",
    "build_settings",
    "condense_images",
    "condense_instance",
    "describe_teacher",
    "finalize_dataset",
    "get_recipe",
    "list_images",
    "load_model",
    "resolve_device",
    "save_model",
    "train_teacher",
]

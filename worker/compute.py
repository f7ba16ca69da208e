"""The worker's side of idc_core: everything goes through `idc_core.api` (which imports torch).

The job spec's parts go to the library as they are (`spec.job`, `spec.teacher.training`); only
the device is the worker's. Imported by worker processes only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from idc_core import api as idc


def file_digest(path: Path) -> str:
    with open(path, "rb") as stream:
        return "sha256:" + hashlib.file_digest(stream, "sha256").hexdigest()


def train_teacher(
    image_paths: Sequence[Path],
    training: idc.TeacherTraining,
    model_path: Path,
    device: str,
    on_fraction: Callable[[float], None],
    should_stop: Callable[[], bool],
) -> Path:
    """Train the teacher the job asks for and save it to `model_path` (+ its .json sidecar);
    raises TrainingCancelled (an `idc.Cancelled`) when `should_stop()` becomes true."""

    def on_progress(progress: idc.TrainProgress) -> None:
        on_fraction(progress.iteration / max(progress.iterations, 1))

    model, _history = idc.train_teacher(
        image_paths,
        training.patch,
        training.recipe,
        arch=training.arch,
        device=idc.resolve_device(device),
        on_progress=on_progress,
        should_stop=should_stop,
    )
    return idc.save_model(model.cpu(), model_path)


def load_teacher(path: Path, device: str, scale: int | None) -> idc.SRModel:
    """Load a stored teacher; ValueError (ModelLoadError) when it cannot be used."""
    model = idc.load_model(path, idc.resolve_device(device))
    if scale is not None and model.scale != scale:
        raise ValueError(f"the checkpoint is a x{model.scale} model, its record says x{scale}")
    return model


def describe_teacher(path: Path, device: str, info: dict[str, Any]) -> dict[str, Any]:
    """The manifest's teacher entry: idc_core's description of the model plus our record."""
    model = idc.load_model(path, idc.resolve_device(device))
    return {**info, **idc.describe_teacher(model, path), "checkpoint": path.name}

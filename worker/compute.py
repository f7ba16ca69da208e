"""The worker's only door into idc_core: everything goes through `idc_core.api`.

Job parameters arrive as the JSON the API stored (`Job.params`); this module turns them into
idc_core objects and calls the library. It is imported by worker processes only (torch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from idc_core import api as idc

CondenseCancelled = idc.CondenseCancelled
ProgressEvent = idc.ProgressEvent
MARKER_DIR = "instances"


def condense_job(params: dict[str, Any], device: str) -> idc.CondenseJob:
    """The CondenseJob the API validated, run on this worker's device."""
    return idc.CondenseJob.model_validate({**params["condense_job"], "device": device})


def file_digest(path: Path) -> str:
    with open(path, "rb") as stream:
        return "sha256:" + hashlib.file_digest(stream, "sha256").hexdigest()


def train_teacher(
    image_paths: Sequence[Path],
    params: dict[str, Any],
    model_path: Path,
    device: str,
    on_fraction: Callable[[float], None],
    should_stop: Callable[[], bool],
) -> Path:
    """Train the teacher the job asks for and save it to `model_path` (+ its .json sidecar).

    idc_core's training loop has no stop hook; its progress callback raises CondenseCancelled
    when the job is cancelled, which ends the loop between two steps.
    """
    spec = params["teacher"]
    scale = params["scale"]
    step = spec.get("step") or max(scale, spec["patch_size"] // 2 // scale * scale)
    patch = idc.PatchSettings(patch_size=spec["patch_size"], step=step, scale=scale)
    recipe = idc.TrainRecipe(
        iterations=spec["iterations"],
        batch_size=spec["batch_size"],
        lr=spec["lr"],
        seed=params["seed"],
    )

    def on_progress(progress) -> None:
        if should_stop():
            raise CondenseCancelled("cancelled while training the teacher")
        on_fraction(progress.iteration / max(progress.iterations, 1))

    model, _history = idc.train_teacher(
        image_paths,
        patch,
        recipe,
        arch=spec["arch"],
        device=idc.resolve_device(device),
        on_progress=on_progress,
    )
    return idc.save_model(model.cpu(), model_path)


def load_teacher(path: Path, device: str, scale: int | None):
    """Load a stored teacher; ValueError (ModelLoadError) when it cannot be used."""
    model = idc.load_model(path, idc.resolve_device(device))
    if scale is not None and model.scale != scale:
        raise ValueError(f"the checkpoint is a x{model.scale} model, its record says x{scale}")
    return model


def condense(
    image_paths: Sequence[Path],
    out_dir: Path,
    params: dict[str, Any],
    teacher,
    device: str,
    on_progress: Callable[[ProgressEvent], None],
    should_stop: Callable[[], bool],
) -> list[idc.InstanceRecord]:
    return idc.condense_images(
        image_paths,
        out_dir,
        condense_job(params, device),
        teacher,
        on_progress=on_progress,
        should_stop=should_stop,
    )


def instance_files(out_dir: Path, name: str) -> list[Path]:
    """The files of a finished instance, pairs first and its marker last (upload order)."""
    marker = out_dir / MARKER_DIR / f"{name}.json"
    record = idc.InstanceRecord.model_validate_json(marker.read_text())
    files = []
    for stem in record.stems:
        files += [out_dir / "HR" / f"{stem}.png", out_dir / "LR" / f"{stem}.png"]
        float_lr = out_dir / "LR_float" / f"{stem}.npy"
        if float_lr.is_file():
            files.append(float_lr)
    return files + [marker]


def describe_teacher(path: Path, device: str, info: dict[str, Any]) -> dict[str, Any]:
    """The manifest's teacher entry: idc_core's description of the model plus our record."""
    model = idc.load_model(path, idc.resolve_device(device))
    return {**info, **idc.describe_teacher(model, path), "checkpoint": path.name}


def finalize(
    out_dir: Path,
    params: dict[str, Any],
    device: str,
    teacher_info: dict[str, Any] | None,
    sources: Sequence[Path],
) -> dict[str, Any]:
    """meta_info.txt and manifest.json for the assembled folder (idc_core checks completeness)."""
    return idc.finalize_dataset(out_dir, condense_job(params, device), teacher_info, sources)

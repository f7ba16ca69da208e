"""Condensing a folder of images into the paired layout, resumable instance by instance.

For every image (instance): IDC synthesises n = ceil(r N) pairs, or a selection baseline keeps
the real pairs it picked over the whole set. The pairs are written in the layout of
`idc_core.spec.layout` (`HR/<name>_<j:04d>.png`, `LR/...`, optionally `LR_float/...npy`), each
file through a temporary name, and only then the marker `instances/<name>.json`. An instance with a marker is
skipped on the next run; one without is redone from scratch (its stray files removed first), and
its seed depends only on (job seed, name), so a resumed run writes the same bytes. IDC may
condense several instances together (the setting `instances_per_batch`, 8 by default on CUDA):
each is still written, with its own marker, when its group finishes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from idc_core import __version__, progress
from idc_core.data.images import ImageReadError
from idc_core.data.paired import pair_stems, write_meta_info, write_pairs
from idc_core.data.patches import ImageTooSmallError, Instance, load_instance
from idc_core.device import resolve_device
from idc_core.manifest import (
    describe_device,
    run_environment,
    sources_digest,
    weights_sha256,
    write_checksums,
)
from idc_core.method.condense import CondenseCancelled, condense_group
from idc_core.method.diagnostics import summarize as summarize_diagnostics
from idc_core.method.instance_state import patches_to_tensor, patches_to_uint8
from idc_core.method.settings import IDCSettings
from idc_core.models.base import SRModel
from idc_core.seeding import instance_seed
from idc_core.spec.job import CondenseJob, ProgressEvent
from idc_core.spec.layout import (
    HR_DIR,
    LR_DIR,
    LR_FLOAT_DIR,
    MANIFEST,
    MARKER_DIR,
    InstanceRecord,
    is_pair_file_of,
    marker_file,
    pair_stem,
)
from idc_core.spec.patches import holds_patch

ProgressCallback = Callable[[ProgressEvent], None]


def _write_json_atomically(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def check_images(paths: Sequence[Path], patch_size: int, scale: int) -> None:
    """Fail before any work on duplicate names, unreadable files or images smaller than a patch.

    Only the headers are read here; a file whose pixel data is corrupt still fails later, when
    its instance is loaded (after the instances before it have been written).
    """
    if not paths:
        raise ImageReadError("no images given")
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise ValueError(f"two images share the name {path.stem!r}: {seen[path.stem]}, {path}")
        seen[path.stem] = path
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise ImageReadError(f"{path}: cannot be read as an image ({error})") from error
        if not holds_patch(width, height, patch_size, scale):
            raise ImageTooSmallError(
                f"{path}: {width}x{height} pixels is smaller than one {patch_size}x{patch_size} "
                "HR patch; lower --patch-size or remove the image"
            )


def _marker_path(out_dir: Path, name: str) -> Path:
    return out_dir / marker_file(name)


def read_marker(out_dir: Path, name: str) -> InstanceRecord | None:
    """The record of a finished instance, or None when it has not finished."""
    path = _marker_path(out_dir, name)
    if not path.is_file():
        return None
    return InstanceRecord.model_validate_json(path.read_text())


def _remove_instance_files(out_dir: Path, name: str) -> None:
    """Delete files left by an unfinished earlier attempt at this instance, and temporaries."""
    for sub in (HR_DIR, LR_DIR, LR_FLOAT_DIR):
        folder = out_dir / sub
        if folder.is_dir():
            for path in folder.iterdir():
                if is_pair_file_of(name, path.name) or path.name.endswith(".tmp"):
                    path.unlink()


def _finish_instance(
    out_dir: Path,
    record: InstanceRecord,
    hr: np.ndarray,
    lr: np.ndarray,
    lr_float: np.ndarray | None,
) -> None:
    """Pairs first, marker last: a marker always means that every file of the instance exists."""
    write_pairs(out_dir, record.stems, hr, lr, lr_float)
    _write_json_atomically(_marker_path(out_dir, record.name), record.model_dump())


def condense_images(
    image_paths: Sequence[str | Path],
    out_dir: str | Path,
    job: CondenseJob,
    teacher: SRModel | None,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    upsampler: nn.Module | None = None,
) -> list[InstanceRecord]:
    """Condense every image into `out_dir` (resumable); returns the records in image order.

    Raises CondenseCancelled when `should_stop()` becomes true (polled between instances and
    between IDC steps); finished instances stay, the current one leaves nothing behind.
    """
    paths = [Path(p) for p in image_paths]
    check_images(paths, job.patch.patch_size, job.patch.scale)
    if teacher is None and job.needs_teacher:
        raise ValueError(f"method {job.method!r} needs a teacher model")
    if teacher is not None and getattr(teacher, "scale", job.patch.scale) != job.patch.scale:
        raise ValueError(
            f"the teacher up-samples x{teacher.scale} but the job asks for x{job.patch.scale}"
        )
    device = resolve_device(job.device)
    if teacher is not None:
        teacher.to(device)
    out = Path(out_dir)
    (out / MARKER_DIR).mkdir(parents=True, exist_ok=True)
    fingerprint = job.fingerprint(weights_sha256(teacher) if teacher is not None else None)
    emit = on_progress or (lambda event: None)
    stop = should_stop or (lambda: False)

    done: dict[str, InstanceRecord] = {}
    for path in paths:
        record = read_marker(out, path.stem)
        if record is not None and record.job_fingerprint != fingerprint:
            raise ValueError(
                f"{out} already holds {path.stem!r} condensed with other settings or another "
                "teacher; write to a new output folder"
            )
        if record is not None:
            done[path.stem] = record

    run = _Run(paths, out, job, teacher, device, fingerprint, done, emit, stop)
    return run.with_idc(upsampler) if job.method == "idc" else run.with_selection(upsampler)


@dataclass
class _Run:
    """One call of condense_images: its inputs and the instances already finished."""

    paths: list[Path]
    out: Path
    job: CondenseJob
    teacher: SRModel | None
    device: torch.device
    fingerprint: str
    done: dict[str, InstanceRecord]
    emit: ProgressCallback
    stop: Callable[[], bool]

    def _compute(self, bf16: bool) -> dict[str, Any]:
        """Where and in which precision the teacher ran for an instance (for the manifest)."""
        autocast = bf16 and self.device.type == "cuda" and self.teacher is not None
        dtype = "bfloat16 autocast" if autocast else "float32"
        return {"compute": {**describe_device(self.device), "teacher_dtype": dtype}}

    def _skip_or_start(self, index: int, name: str) -> InstanceRecord | None:
        """The record of a finished instance, or None after preparing to (re)do it."""
        if name in self.done:
            record = self.done[name]
            self.emit(
                ProgressEvent("instance_skipped", name, index, len(self.paths), record=record)
            )
            return record
        if self.stop():
            raise CondenseCancelled(f"cancelled before {name}")
        _remove_instance_files(self.out, name)
        self.emit(ProgressEvent("instance_started", name, index, len(self.paths)))
        return None

    def _finish(
        self,
        index: int,
        record: InstanceRecord,
        hr: np.ndarray,
        lr: np.ndarray,
        lr_float: np.ndarray | None,
    ) -> InstanceRecord:
        _finish_instance(self.out, record, hr, lr, lr_float)
        total = len(self.paths)
        self.emit(ProgressEvent("instance_finished", record.name, index, total, record=record))
        return record

    def with_idc(self, upsampler: nn.Module | None) -> list[InstanceRecord]:
        """IDC: the images in consecutive groups of `instances_per_batch`, each instance with its
        own seed. A group is condensed together and its instances written when it finishes; the
        groups are cut from the full list of images, so a resumed run forms the same ones."""
        if self.teacher is None:  # condense_images refuses this already
            raise ValueError("IDC needs a teacher model")
        teacher, settings = self.teacher, self.job.idc_settings()
        per_batch = settings.batch_size_on(self.device.type)
        records: list[InstanceRecord] = []
        for first in range(0, len(self.paths), per_batch):
            group = range(first, min(first + per_batch, len(self.paths)))
            started = {index: self._skip_or_start(index, self.paths[index].stem) for index in group}
            finished = {index: r for index, r in started.items() if r is not None}
            todo = [index for index in group if index not in finished]
            if todo:
                finished.update(self._condense_group(todo, teacher, settings, upsampler))
            records.extend(finished[index] for index in group)
        return records

    def _condense_group(
        self,
        indices: list[int],
        teacher: SRModel,
        settings: IDCSettings,
        upsampler: nn.Module | None,
    ) -> dict[int, InstanceRecord]:
        """Condense the images at `indices` together, then write each one's pairs and marker."""
        job, total = self.job, len(self.paths)
        started = time.perf_counter()
        names = [self.paths[index].stem for index in indices]
        instances = [load_instance(self.paths[index], job.patch) for index in indices]

        def on_step(position: int, step: int, steps: int, losses: dict[str, float]) -> None:
            self.emit(
                ProgressEvent(
                    "step", names[position], indices[position], total, step, steps, losses
                )
            )

        results = condense_group(
            instances,
            teacher,
            job.ratio,
            settings,
            [instance_seed(job.seed, name) for name in names],
            self.device,
            on_step=on_step,
            should_stop=self.stop,
            upsampler=upsampler,
        )
        seconds_each = (time.perf_counter() - started) / len(indices)
        records = {}
        for index, name, instance, result in zip(indices, names, instances, results, strict=True):
            record = InstanceRecord(
                name=name,
                source=str(self.paths[index]),
                method="idc",
                n_real=len(instance),
                n_synthetic=len(result.lr),
                stems=[pair_stem(name, j) for j in range(len(result.lr))],
                seconds=seconds_each,
                job_fingerprint=self.fingerprint,
                stats={**result.stats, **self._compute(settings.bf16)},
            )
            lr_float = result.lr.transpose(0, 2, 3, 1) if job.save_float_lr else None
            lr_uint8, hr_uint8 = patches_to_uint8(result.lr), patches_to_uint8(result.hr)
            records[index] = self._finish(index, record, hr_uint8, lr_uint8, lr_float)
        return records

    def with_selection(self, upsampler: nn.Module | None) -> list[InstanceRecord]:
        """Selection baselines: one global selection over all instances, then their real pairs
        (or, with `teacher_hr`, their real LR patches and the HR the up-sampler makes of them)."""
        from idc_core.baselines import select_indices

        job, records = self.job, []
        instances: list[Instance] = []
        with progress.task("loading images", len(self.paths), "images") as task:
            for path in self.paths:
                instances.append(load_instance(path, job.patch))
                task.advance()
        self.emit(ProgressEvent("selecting", job.method, 0, len(self.paths)))
        started = time.perf_counter()
        picks = select_indices(
            job.method, instances, job.ratio, self.teacher, job.seed, str(self.device)
        )
        seconds_each = (time.perf_counter() - started) / len(instances)
        for index, (path, instance) in enumerate(zip(self.paths, instances, strict=True)):
            record = self._skip_or_start(index, instance.name)
            if record is None:
                kept = picks[instance.name]
                record = InstanceRecord(
                    name=instance.name,
                    source=str(path),
                    method=job.method,
                    n_real=len(instance),
                    n_synthetic=len(kept),
                    stems=[pair_stem(instance.name, int(i)) for i in kept],
                    seconds=seconds_each,
                    job_fingerprint=self.fingerprint,
                    stats={"kept_indices": [int(i) for i in kept], **self._compute(False)},
                )
                lr = instance.lr[kept]
                lr_float = lr.astype(np.float32) / 255.0 if job.save_float_lr else None
                hr = self._teacher_hr(lr, upsampler) if job.teacher_hr else instance.hr[kept]
                self._finish(index, record, hr, lr, lr_float)
            records.append(record)
        return records

    def _teacher_hr(self, lr_uint8: np.ndarray, upsampler: nn.Module | None) -> np.ndarray:
        """The up-sampler's (default: the teacher's) HR of real 8-bit LR patches (N x h x w x 3)."""
        from idc_core.method.condense import frozen, upscale

        if len(lr_uint8) == 0:
            scale = self.job.patch.scale
            n, h, w, c = lr_uint8.shape
            return np.zeros((0, h * scale, w * scale, c), np.uint8)
        model = upsampler if upsampler is not None else self.teacher
        assert model is not None  # needs_teacher was checked in condense_images
        with frozen(model.to(self.device)):
            hr = upscale(model, patches_to_tensor(lr_uint8, self.device), 64)
        return patches_to_uint8(hr.cpu().numpy())


def finalize_dataset(
    out_dir: str | Path,
    job: CondenseJob,
    teacher_info: dict[str, Any] | None,
    sources: Sequence[str | Path],
) -> dict[str, Any]:
    """Check that every source's instance is finished, then write meta_info.txt and manifest.json.

    Raises ValueError when an instance is unfinished or when the folder holds pairs that belong
    to no finished instance (they would otherwise be trained on).
    """
    out = Path(out_dir)
    paths = [Path(p) for p in sources]
    markers = {path.stem: read_marker(out, path.stem) for path in paths}
    records = [record for record in markers.values() if record is not None]
    missing = [name for name, record in markers.items() if record is None]
    if missing:
        raise ValueError(f"{len(missing)} instance(s) not condensed yet, e.g. {missing[:5]}")
    expected = {stem for record in records for stem in record.stems}
    present = set(pair_stems(out))
    if present != expected:
        strays = sorted(present - expected)[:5]
        absent = sorted(expected - present)[:5]
        raise ValueError(
            f"{out}: pairs do not match the finished instances (extra {strays}, missing {absent})"
        )
    n_pairs = write_meta_info(out)
    n_real = sum(record.n_real for record in records)
    compute = {json.dumps(r.stats.get("compute"), sort_keys=True) for r in records}
    manifest = {
        "format": "idc-condensed-dataset",
        "format_version": 1,
        "idc_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": job.method,
        "job": job.model_dump(),
        "settings": job.idc_settings().model_dump() if job.method == "idc" else None,
        "teacher": teacher_info,
        "environment": run_environment(),
        "compute": [json.loads(entry) for entry in sorted(compute)],  # one entry per device used
        "sources": sources_digest(paths),
        "outputs": write_checksums(out),
        "pairs": n_pairs,
        "real_pairs": n_real,
        "effective_ratio": n_pairs / n_real,
        "seconds": sum(record.seconds for record in records),
        "instances": [
            {
                "name": r.name,
                "n_real": r.n_real,
                "n_synthetic": r.n_synthetic,
                "seconds": r.seconds,
                "timings": r.stats.get("timings", {}),
                "final_losses": r.stats.get("final_losses", {}),
                "batch_size": r.stats.get("batch_size", 1),
                "diagnostics": r.stats.get("diagnostics"),
            }
            for r in records
        ],
        "diagnostics": summarize_diagnostics(
            {r.name: r.stats["diagnostics"] for r in records if "diagnostics" in r.stats}
        ),
    }
    _write_json_atomically(out / MANIFEST, manifest)
    return manifest

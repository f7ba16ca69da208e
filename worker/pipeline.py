"""The three steps of a job, as plain functions (the Celery tasks in `tasks.py` wrap them).

prepare:  check the job, train the teacher once if asked, split the images into shards and
          queue one shard task each (selection baselines rank the whole set: one shard).
shard:    condense the shard's images whose marker is not in storage yet, uploading each
          finished instance (pairs first, marker last), writing progress to the database and
          stopping between iterations when the job is cancelled; the shard that completes the
          job queues the assembly.
assemble: gather every instance from storage, write meta_info and the manifest, zip the
          paired dataset, draw a preview, upload them, mark the job succeeded, and only then
          delete the intermediate instances from storage.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import update

from app import cleanup, keys
from app.db import session_scope
from app.jobspec import JobSpec, TrainedTeacher
from app.models import Dataset, Job, JobStage, JobStatus, Shard, Teacher, new_id
from app.queue import TASK_ASSEMBLE, TASK_SHARD
from idc_core import api as idc
from worker import compute, heartbeat, jobstate
from worker.archive import make_preview, make_zip
from worker.runtime import Runtime

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """The job cannot succeed; the message is shown to the user as the job's error."""


class Throttle:
    """Calls `action` at most once per `interval` seconds (and always when forced)."""

    def __init__(self, interval: float, action: Callable[..., Any]) -> None:
        self.interval, self.action, self.last = interval, action, float("-inf")

    def __call__(self, *args: Any, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            self.action(*args)


def cancel_check(rt: Runtime, job_id: str) -> Callable[[], bool]:
    """A `should_stop` for idc_core: true when this run lost its lease (the task then leaves the
    job alone), or when the job's cancel flag is set (read at most once a second)."""
    last_read, stop = float("-inf"), False

    def should_stop() -> bool:
        nonlocal last_read, stop
        if heartbeat.run_lost():
            return True
        now = time.monotonic()
        if not stop and now - last_read >= min(rt.settings.progress_interval_s, 1.0):
            last_read = now
            stop = jobstate.cancel_requested(rt.sessions, job_id)
        return stop

    return should_stop


def work_dir(rt: Runtime, job_id: str, name: str) -> Path:
    """A fresh scratch folder for one step of one job (left-overs of a dead run are dropped)."""
    folder = rt.settings.worker_dir / job_id / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def download_images(rt: Runtime, images: list[dict[str, Any]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image in images:
        path = folder / image["key"].rsplit("/", 1)[-1]
        rt.storage.get_file(image["key"], path)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- prepare


def prepare(rt: Runtime, celery: Celery, job_id: str) -> None:
    job = jobstate.start_job(rt.sessions, job_id)
    if job is None:
        return
    if jobstate.cancel_requested(rt.sessions, job_id):
        jobstate.finish(rt.sessions, job_id, JobStatus.cancelled)
        return
    jobstate.set_stage(rt.sessions, job_id, JobStage.preparing)
    with rt.sessions() as session:
        dataset = session.get(Dataset, job.dataset_id) if job.dataset_id else None
    if dataset is None:
        raise JobFailed("the job's dataset was deleted")
    spec = JobSpec.model_validate(job.spec)
    patch = spec.job.patch
    images = dataset.images_holding(patch.patch_size, patch.scale)
    if not images:
        raise JobFailed(f"no image holds a {patch.patch_size}px HR patch")
    if isinstance(spec.teacher, TrainedTeacher) and job.teacher_id is None:
        _train_teacher(rt, job, dataset, spec.teacher.training)
    jobstate.set_stage(rt.sessions, job_id, JobStage.condensing)
    names = [image["name"] for image in images]
    shard_size = spec.images_per_shard(len(names))
    pending = jobstate.create_shards(rt.sessions, job_id, names, shard_size)
    if not pending:
        celery.send_task(TASK_ASSEMBLE, args=[job_id])
        return
    for index in pending:
        celery.send_task(TASK_SHARD, args=[job_id, index])
    log.info("job %s: %d images in %d shard(s) queued", job_id, len(names), len(pending))


def _train_teacher(rt: Runtime, job: Job, dataset: Dataset, training: idc.TeacherTraining) -> None:
    jobstate.set_stage(rt.sessions, job.id, JobStage.training_teacher)
    folder = work_dir(rt, job.id, "teacher")
    patch = training.patch
    images = dataset.images_holding(patch.patch_size, patch.scale)
    if not images:
        raise JobFailed(f"no image holds a {patch.patch_size}px teacher training patch")
    paths = download_images(rt, images, folder / "images")
    report = Throttle(
        rt.settings.progress_interval_s,
        lambda fraction: jobstate.set_stage_progress(rt.sessions, job.id, fraction),
    )
    model_path = compute.train_teacher(
        paths,
        training,
        folder / "model.safetensors",
        rt.settings.device,
        on_fraction=report,
        should_stop=cancel_check(rt, job.id),
    )
    teacher_id = new_id()
    key, config_key = keys.teacher_model_key(teacher_id), keys.teacher_config_key(teacher_id)
    rt.storage.put_file(key, model_path)
    rt.storage.put_file(config_key, model_path.with_suffix(".json"))
    with session_scope(rt.sessions) as session:
        session.add(
            Teacher(
                id=teacher_id,
                owner=job.owner,
                name=f"trained by job {job.id}",
                source="trained",
                filename="model.safetensors",
                arch=training.arch,
                scale=patch.scale,
                size_bytes=model_path.stat().st_size,
                digest=compute.file_digest(model_path),
                storage_key=key,
                config_key=config_key,
                job_id=job.id,
            )
        )
        session.execute(update(Job).where(Job.id == job.id).values(teacher_id=teacher_id))
    shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- shards


def run_shard(rt: Runtime, celery: Celery, job_id: str, index: int) -> None:
    job = jobstate.load_job(rt.sessions, job_id)
    shard = jobstate.load_shard(rt.sessions, job_id, index)
    if job is None or shard is None or job.status != JobStatus.running:
        return
    if jobstate.cancel_requested(rt.sessions, job_id):
        jobstate.finish(rt.sessions, job_id, JobStatus.cancelled)
        return
    if jobstate.start_shard(rt.sessions, shard.id) is not None:  # (the attempt cap: leases.py)
        _condense_shard(rt, job, shard)
    if jobstate.complete_shard(rt.sessions, job_id, shard.id):
        celery.send_task(TASK_ASSEMBLE, args=[job_id])


def _fetch_markers(rt: Runtime, job_id: str, names: list[str], out_dir: Path) -> int:
    """Copy the stored markers of these instances into `out_dir`, so that idc_core skips them
    (a selection baseline still ranks the whole set, and picks the same pairs); returns how
    many there were."""
    prefix = keys.job_output_prefix(job_id)
    stored = set(rt.storage.list_keys(prefix + idc.MARKER_DIR + "/"))
    finished = [name for name in names if prefix + idc.marker_file(name) in stored]
    (out_dir / idc.MARKER_DIR).mkdir(parents=True, exist_ok=True)
    for name in finished:
        rt.storage.get_file(prefix + idc.marker_file(name), out_dir / idc.marker_file(name))
    return len(finished)


def _upload_instance(
    rt: Runtime, out_dir: Path, job_id: str, record: idc.InstanceRecord, float_lr: bool
) -> None:
    """Pairs first, marker last: a marker in storage means its instance is whole there, so an
    instance whose marker is already stored (a duplicate run finished it) is not written again."""
    prefix = keys.job_output_prefix(job_id)
    if rt.storage.exists(prefix + idc.marker_file(record.name)):
        return
    for relative in idc.instance_files(record, float_lr):
        rt.storage.put_file(prefix + relative, out_dir / relative)


def _condense_shard(rt: Runtime, job: Job, shard: Shard) -> None:
    spec = JobSpec.model_validate(job.spec)
    folder = work_dir(rt, job.id, f"shard-{shard.index}")
    out_dir = folder / "out"
    done = _fetch_markers(rt, job.id, shard.images, out_dir)
    jobstate.shard_progress(rt.sessions, shard.id, done, float(done))
    if done == len(shard.images):
        return
    with rt.sessions() as session:
        dataset = session.get(Dataset, job.dataset_id) if job.dataset_id else None
        teacher = session.get(Teacher, job.teacher_id) if job.teacher_id else None
    if dataset is None:
        raise JobFailed("the job's dataset was deleted")
    by_name = {image["name"]: image for image in dataset.images}
    paths = download_images(rt, [by_name[name] for name in shard.images], folder / "images")
    model = _load_teacher(rt, teacher, folder / "teacher") if teacher else None
    # IDC may condense several instances at once (a GPU batch): their steps interleave, so the
    # shard's progress is its finished instances plus each running instance's share of steps.
    running: dict[str, float] = {}
    finished = {"count": done}

    def write_progress() -> None:
        count = finished["count"]
        jobstate.shard_progress(rt.sessions, shard.id, count, count + sum(running.values()))

    report = Throttle(rt.settings.progress_interval_s, write_progress)

    def on_progress(event: idc.ProgressEvent) -> None:
        if event.kind == "instance_finished" and event.record is not None:
            _upload_instance(rt, out_dir, job.id, event.record, spec.job.save_float_lr)
            running.pop(event.instance, None)
            finished["count"] += 1
            report(force=True)
        elif event.kind == "step" and event.steps:
            running[event.instance] = event.step / event.steps
            report()

    idc.condense_images(
        paths,
        out_dir,
        spec.job.on_device(rt.settings.device),
        model,
        on_progress=on_progress,
        should_stop=cancel_check(rt, job.id),
    )
    jobstate.shard_progress(rt.sessions, shard.id, finished["count"], float(finished["count"]))
    shutil.rmtree(folder, ignore_errors=True)


def _fetch_teacher(rt: Runtime, teacher: Teacher, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / teacher.storage_key.rsplit("/", 1)[-1]
    rt.storage.get_file(teacher.storage_key, path)
    if teacher.config_key:
        rt.storage.get_file(teacher.config_key, path.with_suffix(".json"))
    return path


def _load_teacher(rt: Runtime, teacher: Teacher, folder: Path) -> Any:
    path = _fetch_teacher(rt, teacher, folder)
    try:
        return compute.load_teacher(path, rt.settings.device, teacher.scale)
    except ValueError as error:
        raise JobFailed(f"teacher {teacher.id} cannot be used: {error}") from error


# ----------------------------------------------------------------------------- assemble


def assemble(rt: Runtime, job_id: str) -> None:
    job = jobstate.load_job(rt.sessions, job_id)
    if job is None or job.status != JobStatus.running:
        return
    jobstate.set_stage(rt.sessions, job_id, JobStage.assembling)
    folder = work_dir(rt, job_id, "assemble")
    dataset_dir = folder / "dataset"
    rt.storage.download_prefix(keys.job_output_prefix(job_id), dataset_dir)
    with rt.sessions() as session:
        dataset = session.get(Dataset, job.dataset_id) if job.dataset_id else None
        teacher = session.get(Teacher, job.teacher_id) if job.teacher_id else None
    if dataset is None:
        raise JobFailed("the job's dataset was deleted")
    # idc_core digests the source files into the manifest, so they are fetched once more.
    shard_names = {name for shard in jobstate.load_shards(rt.sessions, job_id) for name in shard}
    images = [image for image in dataset.images if image["name"] in shard_names]
    sources = download_images(rt, images, folder / "sources")
    teacher_info = _teacher_info(rt, teacher, folder / "teacher") if teacher else None
    spec = JobSpec.model_validate(job.spec)
    try:
        manifest = idc.finalize_dataset(dataset_dir, spec.job, teacher_info, sources)
    except ValueError as error:
        raise JobFailed(f"the condensed dataset is incomplete: {error}") from error
    manifest["service"] = {
        "job_id": job_id,
        "dataset_id": dataset.id,
        "dataset_name": dataset.name,
        "dataset_digest": dataset.digest,
    }
    (dataset_dir / idc.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    root_name = f"idc-{job_id}"
    zip_path, preview_path = folder / f"{root_name}.zip", folder / "preview.png"
    make_zip(dataset_dir, zip_path, root_name)
    prefix = keys.job_result_prefix(job_id)
    rt.storage.put_file(prefix + zip_path.name, zip_path)
    preview_key = None
    if make_preview(dataset_dir, preview_path):
        preview_key = prefix + "preview.png"
        rt.storage.put_file(preview_key, preview_path)
    rt.storage.put_file(prefix + idc.MANIFEST, dataset_dir / idc.MANIFEST)
    stored = [zip_path, dataset_dir / idc.MANIFEST] + ([preview_path] if preview_key else [])
    succeeded = jobstate.finish(
        rt.sessions,
        job_id,
        JobStatus.succeeded,
        result_key=prefix + zip_path.name,
        preview_key=preview_key,
        manifest=manifest,
        result_bytes=sum(path.stat().st_size for path in stored),
    )
    if succeeded:  # a job cancelled meanwhile keeps its instances for a retry
        cleanup.delete_intermediates(rt.storage, job_id)
    shutil.rmtree(rt.settings.worker_dir / job_id, ignore_errors=True)


def drop_scratch_if_ended(rt: Runtime, job_id: str) -> None:
    """Remove the job's scratch folder on this machine once the job has failed, been cancelled
    or been deleted (its stored instances stay for a retry; `app.cleanup` sweeps them later)."""
    try:
        job = jobstate.load_job(rt.sessions, job_id)
    except Exception as error:  # the step is over; a later task's work_dir drops left-overs
        log.warning("job %s: cannot tell whether its scratch folder can go: %s", job_id, error)
        return
    if job is None or job.status in cleanup.UNFINISHED:
        shutil.rmtree(rt.settings.worker_dir / job_id, ignore_errors=True)


def _teacher_info(rt: Runtime, teacher: Teacher, folder: Path) -> dict[str, Any]:
    path = _fetch_teacher(rt, teacher, folder)
    record = {"id": teacher.id, "source": teacher.source, "digest": teacher.digest}
    return compute.describe_teacher(path, "cpu", record)

"""What is deleted from storage, and when (torch-free; the API and the workers both use it).

- a job's intermediate instances (`jobs/<id>/output/`), once its result is stored and it has
  succeeded (`delete_intermediates`, called by the assemble step);
- every object of a job and its rows, when its owner deletes it, or deletes its dataset with
  `?cascade=true` (`delete_jobs`);
- the files of a failed or cancelled job, `IDC_UNFINISHED_RETENTION_S` after it ended
  (`sweep_expired`, run periodically by a worker). Until then a retry reuses them.

Markers are deleted before the files they vouch for, so an interrupted deletion never leaves a
marker whose instance is gone (a shard skips instances whose marker is stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import keys
from app.db import session_scope
from app.models import Job, JobStatus, Shard
from app.storage import Storage
from idc_core.spec import MARKER_DIR

UNFINISHED = (JobStatus.failed, JobStatus.cancelled)


def delete_intermediates(storage: Storage, job_id: str) -> int:
    """Delete the job's stored instances (markers first); returns how many objects went."""
    output = keys.job_output_prefix(job_id)
    return storage.delete_prefix(f"{output}{MARKER_DIR}/") + storage.delete_prefix(output)


def delete_job_files(storage: Storage, job_id: str) -> int:
    """Delete every object of the job: instances (markers first) and result."""
    return delete_intermediates(storage, job_id) + storage.delete_prefix(keys.job_prefix(job_id))


def delete_jobs(session: Session, storage: Storage, jobs: Sequence[Job]) -> None:
    """Delete the files, then the rows (shards cascade) of finished jobs; the caller commits.
    Files first: a failure leaves rows to delete again, never files that no row names. A
    teacher trained by a job is a resource of its own and stays."""
    for job in jobs:
        delete_job_files(storage, job.id)
        session.delete(job)


def sweep_expired(
    sessions: sessionmaker[Session], storage: Storage, now: datetime, retention_s: float
) -> int:
    """Delete the stored files of every failed or cancelled job that ended more than
    `retention_s` seconds before `now`; returns how many jobs were swept.

    A swept job loses its shards as well (their instances are gone), so a retry splits it again
    and recomputes everything. Only jobs with shards can have files (instances and results are
    written by shard and assemble steps), so a swept job is never looked at again. Each job is
    swept in one transaction that holds its row: a retry at that moment waits, then sees no
    shards. A storage error rolls back, and the next sweep tries again.
    """
    cutoff = now - timedelta(seconds=retention_s)
    expired = [s.value for s in UNFINISHED]
    with sessions() as session:
        job_ids = session.scalars(
            select(Job.id).where(
                Job.status.in_(expired),
                Job.finished_at < cutoff,
                exists().where(Shard.job_id == Job.id),
            )
        ).all()
    swept = 0
    for job_id in job_ids:
        with session_scope(sessions) as session:
            held = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(expired), Job.finished_at < cutoff)
                .values(shards_total=0, shards_done=0, result_key=None, preview_key=None)
            ).rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
            if not held:
                continue  # retried meanwhile
            delete_job_files(storage, job_id)
            session.execute(delete(Shard).where(Shard.job_id == job_id))
        swept += 1
    return swept

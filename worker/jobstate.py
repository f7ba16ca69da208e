"""Job and shard state changes in the database, each one a short transaction.

Transitions are conditional UPDATEs (`WHERE status = ...`), so a task that runs twice, or two
workers racing, cannot move a job backwards or count a shard twice.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.models import FINISHED, Job, JobStage, JobStatus, Shard, ShardStatus, utcnow

ACTIVE = (JobStatus.queued, JobStatus.running)


def _rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE matched (an UPDATE's result is a CursorResult; typing says Result)."""
    return cast(CursorResult[Any], result).rowcount


def start_job(sessions: sessionmaker[Session], job_id: str) -> Job | None:
    """Move a queued job to running; None when it is finished (or gone) and must not run."""
    with session_scope(sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(status=JobStatus.running, started_at=utcnow())
        )
        job = session.get(Job, job_id)
        if job is None or job.status in FINISHED:
            return None
        return job


def load_job(sessions: sessionmaker[Session], job_id: str) -> Job | None:
    with sessions() as session:
        return session.get(Job, job_id)


def set_stage(sessions: sessionmaker[Session], job_id: str, stage: JobStage) -> None:
    """Enter `stage`; the time spent in the previous stage goes into `timings`."""
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        if job is None or job.stage == stage:
            return
        now = utcnow()
        if job.stage_started_at is not None and job.stage != JobStage.queued:
            timings = dict(job.timings or {})
            elapsed = (now - job.stage_started_at).total_seconds()
            timings[job.stage] = round(timings.get(job.stage, 0.0) + elapsed, 3)
            job.timings = timings
        job.stage, job.stage_started_at, job.stage_progress = stage, now, 0.0


def set_stage_progress(sessions: sessionmaker[Session], job_id: str, fraction: float) -> None:
    with session_scope(sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(stage_progress=fraction))


def cancel_requested(sessions: sessionmaker[Session], job_id: str) -> bool:
    """True when the job was asked to stop or has ended (failed elsewhere, deleted)."""
    with sessions() as session:
        row = session.execute(
            select(Job.cancel_requested, Job.status).where(Job.id == job_id)
        ).first()
    return row is None or bool(row[0]) or row[1] in FINISHED


def finish(
    sessions: sessionmaker[Session],
    job_id: str,
    status: JobStatus,
    error: str | None = None,
    **values,
) -> bool:
    """End an active job as succeeded, failed or cancelled; False when it had already ended."""
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in FINISHED:
            return False
        now = utcnow()
        timings = dict(job.timings or {})
        if job.stage_started_at is not None and job.stage not in (JobStage.queued, JobStage.done):
            elapsed = (now - job.stage_started_at).total_seconds()
            timings[job.stage] = round(timings.get(job.stage, 0.0) + elapsed, 3)
        if job.started_at is not None:
            timings["total"] = round((now - job.started_at).total_seconds(), 3)
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_([s.value for s in ACTIVE]))
            .values(
                status=status,
                error=error,
                finished_at=now,
                timings=timings,
                stage=JobStage.done if status == JobStatus.succeeded else job.stage,
                stage_progress=1.0 if status == JobStatus.succeeded else job.stage_progress,
                **values,
            )
        )
        if status != JobStatus.succeeded:
            session.execute(
                update(Shard)
                .where(
                    Shard.job_id == job_id,
                    Shard.status.in_([ShardStatus.pending, ShardStatus.running]),
                )
                .values(status=ShardStatus(status.value))
            )
        return _rows_changed(result) == 1


def create_shards(
    sessions: sessionmaker[Session], job_id: str, names: Sequence[str], shard_size: int
) -> list[int]:
    """Split the image names into shards (once: a re-run keeps the first split); returns the
    indexes of the shards that have not succeeded."""
    with session_scope(sessions) as session:
        existing = session.scalars(select(Shard).where(Shard.job_id == job_id)).all()
        if not existing:
            chunks = [list(names[i : i + shard_size]) for i in range(0, len(names), shard_size)]
            existing = [
                Shard(job_id=job_id, index=i, images=chunk, instances_total=len(chunk))
                for i, chunk in enumerate(chunks)
            ]
            session.add_all(existing)
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(shards_total=len(chunks), instances_total=len(names))
            )
        return [s.index for s in existing if s.status != ShardStatus.succeeded]


def load_shard(sessions: sessionmaker[Session], job_id: str, index: int) -> Shard | None:
    with sessions() as session:
        return session.scalar(select(Shard).where(Shard.job_id == job_id, Shard.index == index))


def load_shards(sessions: sessionmaker[Session], job_id: str) -> list[list[str]]:
    """The image names of each shard of the job, in shard order."""
    with sessions() as session:
        rows = session.scalars(select(Shard).where(Shard.job_id == job_id).order_by(Shard.index))
        return [list(shard.images) for shard in rows]


def start_shard(sessions: sessionmaker[Session], shard_id: int) -> int | None:
    """Mark the shard running on this host; returns how many runs it has started (`attempts`,
    shown to clients; the cap on lost runs is the lease's, `worker/leases.py`), or
    None when it has already succeeded (a duplicate delivery must not mark it running again,
    or it would be counted twice)."""
    with session_scope(sessions) as session:
        row = session.execute(
            update(Shard)
            .where(Shard.id == shard_id, Shard.status != ShardStatus.succeeded)
            .values(
                attempts=Shard.attempts + 1,
                status=ShardStatus.running,
                worker=socket.gethostname(),
                started_at=func.coalesce(Shard.started_at, utcnow()),
            )
            .returning(Shard.attempts)
        ).first()
        return row[0] if row else None


def shard_progress(
    sessions: sessionmaker[Session], shard_id: int, done: int, progress: float
) -> None:
    with session_scope(sessions) as session:
        session.execute(
            update(Shard).where(Shard.id == shard_id).values(instances_done=done, progress=progress)
        )


def complete_shard(sessions: sessionmaker[Session], job_id: str, shard_id: int) -> bool:
    """Mark the shard succeeded and count it once; True when every shard of the job is done.

    The job row's counter is incremented by an UPDATE, which row-locks it: two shards ending at
    the same moment each see the other's increment, so exactly one of them sees the last one.
    """
    with session_scope(sessions) as session:
        changed = _rows_changed(
            session.execute(
                update(Shard)
                .where(Shard.id == shard_id, Shard.status != ShardStatus.succeeded)
                .values(status=ShardStatus.succeeded, finished_at=utcnow(), error=None)
            )
        )
        if changed:
            session.execute(
                update(Job).where(Job.id == job_id).values(shards_done=Job.shards_done + 1)
            )
        done, total = session.execute(
            select(Job.shards_done, Job.shards_total).where(Job.id == job_id)
        ).one()
        return done >= total


def fail_shard(sessions: sessionmaker[Session], shard_id: int, error: str) -> None:
    with session_scope(sessions) as session:
        session.execute(
            update(Shard)
            .where(Shard.id == shard_id)
            .values(status=ShardStatus.failed, error=error, finished_at=utcnow())
        )

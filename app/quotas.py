"""Per-owner quotas, each checked before the work it guards starts: 429 with Retry-After.

- jobs queued or running at once (`IDC_OWNER_MAX_ACTIVE_JOBS`): `POST /condense` and
  `POST /jobs/{id}/retry`;
- bytes stored (`IDC_OWNER_MAX_STORED_BYTES`): datasets' images, teachers' checkpoints and
  succeeded jobs' results, summed from their rows; uploads of datasets and teachers are refused
  before anything is stored when they would go past it.

Two requests at the same moment may both pass (the count is read, not locked): a quota is a
guard against one tenant taking the service, not an exact meter.
"""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Dataset, Job, JobStatus, Teacher

# Seconds a client is told to wait: a job slot frees when a job ends (minutes); stored bytes
# free only when the owner deletes something.
ACTIVE_JOBS_RETRY_AFTER_S = 60
STORED_BYTES_RETRY_AFTER_S = 3600
ACTIVE = (JobStatus.queued, JobStatus.running)


def _too_many(detail: str, retry_after_s: int) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(retry_after_s)})


def active_jobs(session: Session, owner: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.owner == owner, Job.status.in_([s.value for s in ACTIVE]))
        )
        or 0
    )


def check_active_jobs(session: Session, settings: Settings, owner: str) -> None:
    """429 when the owner already has the most jobs queued or running that one may have."""
    limit = settings.owner_max_active_jobs
    if active_jobs(session, owner) >= limit:
        raise _too_many(
            f"you have {limit} job(s) queued or running, the most allowed at once; wait for one "
            "to finish or cancel one",
            ACTIVE_JOBS_RETRY_AFTER_S,
        )


def stored_bytes(session: Session, owner: str) -> int:
    """What the owner stores: datasets' images, teachers, succeeded jobs' results."""
    total = 0
    for column, model in (
        (Dataset.total_bytes, Dataset),
        (Teacher.size_bytes, Teacher),
        (Job.result_bytes, Job),
    ):
        query = select(func.coalesce(func.sum(column), 0)).where(model.owner == owner)
        total += int(session.scalar(query) or 0)
    return total


def check_stored_bytes(session: Session, settings: Settings, owner: str, adding: int) -> None:
    """429 when storing `adding` more bytes would take the owner past their quota."""
    limit = settings.owner_max_stored_bytes
    stored = stored_bytes(session, owner)
    if stored + adding > limit:
        raise _too_many(
            f"storing {adding} more bytes would exceed your quota of {limit} bytes "
            f"({stored} stored); delete datasets, teachers or jobs you no longer need",
            STORED_BYTES_RETRY_AFTER_S,
        )

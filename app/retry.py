"""Putting a failed or cancelled job back in the queue, keeping the instances it stored.

The job returns to `queued` with its error, cancel flag, result and timings cleared (timings
and `started_at` describe the latest run). A shard stays succeeded only while every one of its
instances has its marker in storage; the others return to `pending` with fresh attempts. The
prepare step, queued again by the caller, keeps the existing split and queues the pending
shards, which skip the instances already stored. A job whose files were swept has no shards
left: it is split again and recomputed.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from app import keys
from app.cleanup import UNFINISHED
from app.models import Job, JobStage, JobStatus, Shard, ShardStatus
from app.storage import Storage
from idc_core.spec import MARKER_DIR, marker_file


def reset_for_retry(session: Session, storage: Storage, job_id: str) -> bool:
    """Reset the job and its shards (committed); False when it is not failed or cancelled now."""
    output = keys.job_output_prefix(job_id)
    stored = set(storage.list_keys(f"{output}{MARKER_DIR}/"))
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([s.value for s in UNFINISHED]))
        .values(
            status=JobStatus.queued,
            stage=JobStage.queued,
            error=None,
            cancel_requested=False,
            started_at=None,
            stage_started_at=None,
            finished_at=None,
            stage_progress=0.0,
            timings={},
            result_key=None,
            preview_key=None,
            manifest=None,
            result_bytes=None,
        )
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        session.rollback()
        return False
    shards = session.scalars(select(Shard).where(Shard.job_id == job_id)).all()
    for shard in shards:
        whole = sum(output + marker_file(name) in stored for name in shard.images)
        if shard.status == ShardStatus.succeeded and whole == len(shard.images):
            continue
        shard.status, shard.attempts, shard.error, shard.worker = ShardStatus.pending, 0, None, None
        shard.started_at = shard.finished_at = None
        shard.instances_done, shard.progress = whole, float(whole)
    done = sum(shard.status == ShardStatus.succeeded for shard in shards)
    session.execute(update(Job).where(Job.id == job_id).values(shards_done=done))
    session.commit()
    return True

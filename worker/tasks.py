"""Celery tasks: thin wrappers that run a pipeline step and turn its ending into job state.

- cancelled (idc_core's `Cancelled`, or the flag seen by the step): job -> cancelled;
- soft time limit: job -> failed, with the limit and what to change;
- JobFailed or any other error: job -> failed, with the error's message;
- database or storage unreachable: retried (with back-off) before failing the job.
Each run first claims its step's lease (`worker/leases.py`) and heartbeats it while it works
(`worker/heartbeat.py`): a delivery whose step a live run holds does nothing; a step lost more
than `IDC_TASK_MAX_ATTEMPTS` times fails the job; a run whose lease was taken over (its heartbeat
went stale and a sweep re-sent its task) stops and leaves the job to the new run, which resumes
from what is in storage.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from app.logs import job_context
from app.models import JobStatus
from app.queue import TASK_ASSEMBLE, TASK_PREPARE, TASK_SHARD
from app.storage import StorageError
from idc_core.api import Cancelled
from worker import heartbeat, jobstate, leases, pipeline
from worker.celery_app import celery_app
from worker.runtime import runtime

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, StorageError)
MAX_RETRIES = 3


def _run(task: Task, job_id: str, step: str, action: Callable[[], None]) -> None:
    with job_context(job_id):
        rt = runtime()
        worker = f"{task.request.hostname}:{os.getpid()}"
        args = list(task.request.args or [])
        try:
            outcome = leases.claim(
                rt.sessions,
                job_id,
                step,
                task.name,
                args,
                rt.settings.queue,  # the one queue this worker reads (`idc-service worker`)
                worker,
                rt.settings.worker_stale_s,
                rt.settings.task_max_attempts,
            )
        except OperationalError as error:  # the database is away: try again later
            log.warning("job %s: cannot claim %s (%s); retrying", job_id, step, error)
            raise task.retry(exc=error, countdown=2 ** (task.request.retries + 1)) from error
        if isinstance(outcome, leases.Busy):
            log.info(
                "job %s: %s is held by live run %s; nothing to do", job_id, step, outcome.worker
            )
            return
        if isinstance(outcome, leases.Exhausted):
            log.error("job %s: %s", job_id, outcome.message(step))
            jobstate.finish(rt.sessions, job_id, JobStatus.failed, outcome.message(step))
            return
        with heartbeat.keep(rt.sessions, outcome, rt.settings.heartbeat_interval_s) as keeper:
            _run_in_context(task, job_id, step, action, keeper)
        pipeline.drop_scratch_if_ended(rt, job_id)


def _run_in_context(
    task: Task, job_id: str, step: str, action: Callable[[], None], keeper: heartbeat.RunKeeper
) -> None:
    rt = runtime()
    try:
        try:
            action()
        except Exception:
            if keeper.lost.is_set():  # another run owns the step now: the job is its business
                log.warning("job %s: %s lost its lease and stopped, leaving the job", job_id, step)
                return
            raise
    except Cancelled:
        log.info("job %s cancelled during %s", job_id, step)
        jobstate.finish(rt.sessions, job_id, JobStatus.cancelled)
    except SoftTimeLimitExceeded:
        limit = rt.settings.task_soft_time_limit_s
        message = (
            f"the {step} step ran past the soft time limit of {limit}s; raise "
            "IDC_TASK_SOFT_TIME_LIMIT_S (and the hard limit and visibility timeout above it) "
            "or use smaller shards"
        )
        log.error("job %s: %s", job_id, message)
        jobstate.finish(rt.sessions, job_id, JobStatus.failed, message)
    except TRANSIENT as error:
        if task.request.retries < MAX_RETRIES:
            log.warning("job %s: %s failed (%s); retrying", job_id, step, error)
            raise task.retry(exc=error, countdown=2 ** (task.request.retries + 1)) from error
        log.exception("job %s: %s failed", job_id, step)
        jobstate.finish(rt.sessions, job_id, JobStatus.failed, f"{step} failed: {error}")
    except pipeline.JobFailed as error:
        log.error("job %s: %s", job_id, error)
        jobstate.finish(rt.sessions, job_id, JobStatus.failed, str(error))
    except Exception as error:  # report every other failure on the job, never leave it running
        log.exception("job %s: %s failed", job_id, step)
        message = f"{step} failed: {type(error).__name__}: {error}"
        jobstate.finish(rt.sessions, job_id, JobStatus.failed, message)


@celery_app.task(name=TASK_PREPARE, bind=True, max_retries=MAX_RETRIES)
def prepare_job(self: Task, job_id: str) -> None:
    """Check the job, train its teacher if asked, and queue its shards."""
    _run(self, job_id, "prepare", lambda: pipeline.prepare(runtime(), celery_app, job_id))


@celery_app.task(name=TASK_SHARD, bind=True, max_retries=MAX_RETRIES)
def run_shard(self: Task, job_id: str, index: int) -> None:
    """Condense one shard's images; the last shard to finish queues the assembly."""
    _run(
        self,
        job_id,
        f"shard {index}",
        lambda: pipeline.run_shard(runtime(), celery_app, job_id, index),
    )


@celery_app.task(name=TASK_ASSEMBLE, bind=True, max_retries=MAX_RETRIES)
def assemble_job(self: Task, job_id: str) -> None:
    """Build and upload the archive, manifest and preview; mark the job succeeded."""
    _run(self, job_id, "assemble", lambda: pipeline.assemble(runtime(), job_id))

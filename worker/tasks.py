"""Celery tasks: thin wrappers that run a pipeline step and turn its ending into job state.

- cancelled (idc_core's `Cancelled`, or the flag seen by the step): job -> cancelled;
- soft time limit: job -> failed, with the limit and what to change;
- JobFailed or any other error: job -> failed, with the error's message;
- database or storage unreachable: retried (with back-off) before failing the job.
A task whose worker process dies is re-queued by Celery (acks late, reject on worker lost) and
resumes from what is in storage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from app.logs import job_context
from app.models import JobStatus
from app.queue import TASK_ASSEMBLE, TASK_PREPARE, TASK_SHARD
from app.storage import StorageError
from idc_core.api import Cancelled
from worker import jobstate, pipeline
from worker.celery_app import celery_app
from worker.runtime import runtime

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, StorageError)
MAX_RETRIES = 3


def _run(task: Task, job_id: str, step: str, action: Callable[[], None]) -> None:
    with job_context(job_id):
        _run_in_context(task, job_id, step, action)
        pipeline.drop_scratch_if_ended(runtime(), job_id)


def _run_in_context(task: Task, job_id: str, step: str, action: Callable[[], None]) -> None:
    rt = runtime()
    try:
        action()
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

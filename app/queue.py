"""The queue between API and workers: task names, and the Celery app both sides build.

The API sends tasks by name (`TASK_*`); `worker.tasks` registers them under the same names.
Nothing here imports the tasks, torch or the settings: `create_celery(settings)` names
`worker.tasks` as a string that Celery imports only in worker processes, and building the app
is left to the caller (`app.main.create_app`, `worker.celery_app`), so importing this module reads
no environment.

The settings follow Celery's advice for long tasks: a task is acknowledged only after it ends
(`task_acks_late`) and goes back to the queue when its worker process dies
(`task_reject_on_worker_lost`); each worker process reserves one task at a time
(`worker_prefetch_multiplier=1`); Redis re-delivers unacknowledged tasks after a visibility
timeout that must exceed the hard time limit (checked in Settings), and the soft time limit
lets a task fail its job cleanly before the hard limit kills it. A step whose worker is lost is
handed over long before that timeout by the task leases (`worker/leases.py`).
"""

from __future__ import annotations

from celery import Celery

from app.config import Settings

TASK_PREPARE = "idc.prepare_job"
TASK_SHARD = "idc.run_shard"
TASK_ASSEMBLE = "idc.assemble_job"


def broker_transport_options(settings: Settings) -> dict[str, int]:
    """Redis (the broker of deployments) hands an unacknowledged task (its worker died) to
    another worker once it is `visibility_timeout` old; the sweep that finds such tasks runs every tenth of that (at most
    a minute) instead of kombu's default of about 100 s."""
    timeout = settings.broker_visibility_timeout_s
    if not settings.celery_broker_url.startswith(("redis://", "rediss://")):
        return {}  # the SQLite broker of embedded mode has no visibility timeout
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(60, timeout // 10)),
        "unacked_restore_throttle": 1,
    }


def create_celery(settings: Settings) -> Celery:
    """The Celery app for these settings; worker processes import `worker.tasks` into it."""
    celery = Celery("idc", broker=settings.celery_broker_url, include=["worker.tasks"])
    celery.conf.update(
        task_default_queue=settings.queue,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_time_limit_s,
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        worker_send_task_events=False,
        task_track_started=False,
    )
    return celery

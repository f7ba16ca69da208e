"""The worker's Celery app, built from this process's settings when a worker starts.

`celery -A worker.celery_app worker` (or `idc-service worker`) imports this module; the API never
does (it builds its own app from `app.queue` with the settings it was given).
"""

from __future__ import annotations

from typing import Any

from celery.signals import setup_logging

from app.config import get_settings
from app.logs import configure_logging
from app.queue import create_celery
from worker import heartbeat  # noqa: F401 - connects the worker heartbeat to worker_ready

celery_app = create_celery(get_settings())


@setup_logging.connect
def _configure_logging(loglevel: int | str | None = None, **_kwargs: Any) -> None:
    """The service's log format (job id on each line of a task) instead of Celery's own."""
    configure_logging(loglevel or get_settings().log_level)

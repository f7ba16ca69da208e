"""Logging of every entry point (serve, embedded, worker): one format, with the job's id on
each line logged while a worker runs that job."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(job)s: %(message)s"
_current_job: ContextVar[str | None] = ContextVar("current_job", default=None)


class JobIdFilter(logging.Filter):
    """Adds `job` (' [job <id>]', or '' outside a job) to every record the handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = _current_job.get()
        record.job = f" [job {job_id}]" if job_id else ""
        return True


def configure_logging(level: str | int) -> None:
    """Send every logger's records to stderr in LOG_FORMAT at `level` (replaces root handlers)."""
    handler = logging.StreamHandler()
    handler.addFilter(JobIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Lines logged inside carry this job's id."""
    token = _current_job.set(job_id)
    try:
        yield
    finally:
        _current_job.reset(token)

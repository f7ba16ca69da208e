"""The heartbeat threads of a worker.

- `keep(lease)`: in the process that runs a task, renews the task's lease every heartbeat
  interval; when the lease is no longer the run's (a sweep handed it to another run), flags the
  run as lost: `run_lost()` turns true, the step's `should_stop` stops it, and the task leaves
  the job alone (the new run owns it).
- `WorkerLoop`: in a worker's main process (started on `worker_ready`, stopped on
  `worker_shutdown`), every heartbeat interval runs its `duties` in order: write this worker's
  row, drop expired worker rows, sweep stale leases, delete the files of failed/cancelled jobs past
  IDC_UNFINISHED_RETENTION_S (app.cleanup). One more periodic duty is one more entry.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from app.cleanup import sweep_expired
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.models import WorkerBeat, utcnow
from app.storage import make_storage
from worker import leases
from worker.jobstate import _rows_changed

log = logging.getLogger(__name__)


class RunKeeper:
    """Renews one lease from a daemon thread until stopped; `lost` once it is taken over."""

    def __init__(
        self, sessions: sessionmaker[Session], lease: leases.Lease, interval_s: float
    ) -> None:
        self.sessions, self.lease, self.interval_s = sessions, lease, interval_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {lease.step}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not leases.renew(self.sessions, self.lease):
                    log.warning(
                        "job %s: the lease of %s was taken over; this run stops",
                        self.lease.job_id,
                        self.lease.step,
                    )
                    self.lost.set()
                    return
            except Exception:  # the database may come back; the lease goes stale otherwise
                log.exception("job %s: heartbeat of %s failed", self.lease.job_id, self.lease.step)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)


_current: ContextVar[RunKeeper | None] = ContextVar("idc_run_keeper", default=None)


@contextmanager
def keep(
    sessions: sessionmaker[Session], lease: leases.Lease, interval_s: float
) -> Iterator[RunKeeper]:
    """Heartbeat `lease` while the block runs; release it when the block ends, however."""
    keeper = RunKeeper(sessions, lease, interval_s)
    keeper.start()
    reset = _current.set(keeper)
    try:
        yield keeper
    finally:
        _current.reset(reset)
        keeper.stop()
        leases.release(sessions, lease)


def run_lost() -> bool:
    """True when the task running in this context has lost its lease to another run."""
    keeper = _current.get()
    return keeper is not None and keeper.lost.is_set()


# ----------------------------------------------------------------------------- worker loop


def write_worker_row(sessions: sessionmaker[Session], worker_id: str, pid: int, queue: str) -> None:
    """Insert or refresh this worker's row."""
    with session_scope(sessions) as session:
        now = utcnow()
        refreshed = session.execute(
            update(WorkerBeat)
            .where(WorkerBeat.id == worker_id)
            .values(last_seen=now, pid=pid, queue=queue)
        )
        if _rows_changed(refreshed) == 0:
            session.add(
                WorkerBeat(id=worker_id, pid=pid, queue=queue, started_at=now, last_seen=now)
            )


def drop_expired_workers(sessions: sessionmaker[Session], stale_s: float) -> int:
    with session_scope(sessions) as session:
        cutoff = utcnow() - timedelta(seconds=stale_s)
        return _rows_changed(
            session.execute(delete(WorkerBeat).where(WorkerBeat.last_seen < cutoff))
        )


def remove_worker_row(sessions: sessionmaker[Session], worker_id: str) -> None:
    with session_scope(sessions) as session:
        session.execute(delete(WorkerBeat).where(WorkerBeat.id == worker_id))


class WorkerLoop:
    """A daemon thread that runs `duties` every `interval_s` seconds until stopped."""

    def __init__(self, duties: list[Callable[[], Any]], interval_s: float) -> None:
        self.duties, self.interval_s = duties, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idc worker loop", daemon=True)

    def run_once(self) -> None:
        for duty in self.duties:
            try:
                duty()
            except Exception:  # one failing duty (database down) must not stop the others
                log.exception("periodic duty %s failed", getattr(duty, "__name__", duty))

    def _run(self) -> None:
        self.run_once()
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)


def worker_duties(
    settings: Settings, sessions: sessionmaker[Session], sender: leases.TaskSender, worker_id: str
) -> list[Callable[[], Any]]:
    """What every worker's main process does each heartbeat interval, in order."""
    pid, stale_s = os.getpid(), settings.worker_stale_s

    def heartbeat() -> None:
        write_worker_row(sessions, worker_id, pid, settings.queue)

    def expire_workers() -> None:
        drop_expired_workers(sessions, stale_s)

    def sweep_leases() -> None:
        leases.sweep(sessions, sender, stale_s, settings.queue)

    def sweep_expired_files() -> None:
        swept = sweep_expired(sessions, storage, utcnow(), settings.unfinished_retention_s)
        if swept:
            log.info("deleted the stored files of %d failed/cancelled job(s) past retention", swept)

    storage = make_storage(settings)
    return [heartbeat, expire_workers, sweep_leases, sweep_expired_files]


_loop: dict[str, Any] = {}


@worker_ready.connect
def _start_worker_loop(sender: Any = None, **_kwargs: Any) -> None:
    """In the worker's main process: its own engine without a pool (prefork children are forked
    from this process later, and must not inherit open connections)."""
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url, pooled=False)
    sessions = make_sessionmaker(engine)
    worker_id = f"{sender.hostname}:{os.getpid()}"
    loop = WorkerLoop(
        worker_duties(settings, sessions, sender.app, worker_id), settings.heartbeat_interval_s
    )
    _loop.update(loop=loop, sessions=sessions, worker_id=worker_id, engine=engine)
    loop.start()
    log.info("worker %s: heartbeat every %gs", worker_id, settings.heartbeat_interval_s)


@worker_shutdown.connect
def _stop_worker_loop(**_kwargs: Any) -> None:
    loop: WorkerLoop | None = _loop.pop("loop", None)
    if loop is None:
        return
    loop.stop()
    try:
        remove_worker_row(_loop["sessions"], _loop["worker_id"])
    except Exception:
        log.exception("could not remove this worker's row")
    _loop["engine"].dispose()

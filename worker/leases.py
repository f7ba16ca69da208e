"""Task leases: which run of a job's step (`prepare`, `shard <i>`, `assemble`) is doing it.

The rules, each stated here once:
- A run claims its step's lease before it works. The claim succeeds when the step has no lease,
  when its lease was handed over (no token), or when the lease's heartbeat is older than
  `stale_s` (its run is lost); every successful claim counts one attempt. A claim past
  `max_attempts` is refused: the step was lost that many times, the job fails.
- A delivery whose lease is held by a live run does nothing (a duplicate message).
- The holder renews `heartbeat_at` while it runs, on condition that the token is still its own;
  when it is not, the run has been taken over and must stop without changing the job.
- A step that ends, however it ends, drops its lease (on its token): attempts restart at zero.
- A lease remembers the queue its task was taken from. A worker sweeps the leases of the queue it
  reads (only its broker and its fellow workers can run them): it takes over each stale lease by
  a conditional UPDATE (exactly one sweeper wins) and re-sends the lease's task to that queue
  inside the same transaction (a failed send leaves the lease stale for the next sweep). Leases of finished jobs are dropped instead.
Time is each process's UTC clock: machines of one deployment keep it with NTP.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.models import FINISHED, Job, TaskLease, utcnow
from worker.jobstate import _rows_changed

log = logging.getLogger(__name__)


class TaskSender(Protocol):
    def send_task(self, name: str, args: list[Any], queue: str) -> Any: ...


@dataclass(frozen=True)
class Lease:
    """A claimed lease: the step, its run's token and the attempt this run is."""

    job_id: str
    step: str
    token: str
    attempts: int


@dataclass(frozen=True)
class Busy:
    """The step's lease is held by a live run (`worker`)."""

    worker: str | None


@dataclass(frozen=True)
class Exhausted:
    """The step was claimed more than the cap allows: its runs keep getting lost."""

    attempts: int

    def message(self, step: str) -> str:
        return (
            f"the {step} step was started {self.attempts - 1} times without finishing (its "
            "worker was lost each time, e.g. out of memory); giving up"
        )


def claim(
    sessions: sessionmaker[Session],
    job_id: str,
    step: str,
    task_name: str,
    args: list[Any],
    queue: str,
    worker: str,
    stale_s: float,
    max_attempts: int,
) -> Lease | Busy | Exhausted:
    """Claim the step's lease for this run, which was taken from `queue` (see the module's
    rules)."""
    token = secrets.token_hex(16)
    now = utcnow()
    try:
        with session_scope(sessions) as session:
            session.add(
                TaskLease(
                    job_id=job_id,
                    step=step,
                    task_name=task_name,
                    args=list(args),
                    queue=queue,
                    attempts=1,
                    worker=worker,
                    token=token,
                    heartbeat_at=now,
                    claimed_at=now,
                )
            )
        attempts = 1
    except IntegrityError:  # a lease exists: take it if it was handed over or is stale
        with session_scope(sessions) as session:
            row = session.execute(
                update(TaskLease)
                .where(
                    TaskLease.job_id == job_id,
                    TaskLease.step == step,
                    or_(
                        TaskLease.token.is_(None),
                        TaskLease.heartbeat_at < now - timedelta(seconds=stale_s),
                    ),
                )
                .values(
                    attempts=TaskLease.attempts + 1,
                    queue=queue,
                    worker=worker,
                    token=token,
                    heartbeat_at=now,
                    claimed_at=now,
                    task_name=task_name,
                    args=list(args),
                )
                .returning(TaskLease.attempts)
            ).first()
            if row is None:
                holder = session.scalar(
                    select(TaskLease.worker).where(
                        TaskLease.job_id == job_id, TaskLease.step == step
                    )
                )
                return Busy(holder)
        attempts = row[0]
    if attempts > max_attempts:
        release(sessions, Lease(job_id, step, token, attempts))
        return Exhausted(attempts)
    return Lease(job_id, step, token, attempts)


def renew(sessions: sessionmaker[Session], lease: Lease) -> bool:
    """Write the heartbeat; False when the lease is no longer this run's (taken over)."""
    with session_scope(sessions) as session:
        result = session.execute(
            update(TaskLease)
            .where(
                TaskLease.job_id == lease.job_id,
                TaskLease.step == lease.step,
                TaskLease.token == lease.token,
            )
            .values(heartbeat_at=utcnow())
        )
        return _rows_changed(result) == 1


def release(sessions: sessionmaker[Session], lease: Lease) -> None:
    """The step ended: drop its lease, unless another run has taken it over meanwhile."""
    with session_scope(sessions) as session:
        session.execute(
            delete(TaskLease).where(
                TaskLease.job_id == lease.job_id,
                TaskLease.step == lease.step,
                TaskLease.token == lease.token,
            )
        )


def sweep(
    sessions: sessionmaker[Session],
    sender: TaskSender,
    stale_s: float,
    queue: str,
    now: datetime | None = None,
) -> list[tuple[str, str]]:
    """Hand every stale lease of `queue` (the sweeper's own) to a new run: re-send its task
    there (once, whichever sweeper wins); drop the stale leases of finished jobs. Returns the
    (job id, step) pairs re-sent."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_s)
    with sessions() as session:
        stale = session.execute(
            select(TaskLease, Job.status)
            .join(Job, Job.id == TaskLease.job_id)
            .where(
                TaskLease.queue == queue,
                TaskLease.token.is_not(None),
                TaskLease.heartbeat_at < cutoff,
            )
        ).all()
    resent = []
    for lease, job_status in stale:
        with session_scope(sessions) as session:
            mine = (
                TaskLease.job_id == lease.job_id,
                TaskLease.step == lease.step,
                TaskLease.token == lease.token,
                TaskLease.heartbeat_at < cutoff,
            )
            if job_status in FINISHED:
                session.execute(delete(TaskLease).where(*mine))
                continue
            taken = session.execute(
                update(TaskLease).where(*mine).values(token=None, worker=None, heartbeat_at=now)
            )
            if _rows_changed(taken) != 1:
                continue  # another sweeper took it, or its run came back to life
            sender.send_task(lease.task_name, args=list(lease.args), queue=queue)
        silent = (now - lease.heartbeat_at).total_seconds()
        log.warning(
            "job %s: %s of %s silent for %.0fs (attempt %d); re-sent %s",
            lease.job_id,
            lease.step,
            lease.worker,
            silent,
            lease.attempts,
            lease.task_name,
        )
        resent.append((lease.job_id, lease.step))
    return resent

"""Task leases, heartbeats and the sweep on a real database (SQLite and Postgres): who may run a
step, when a lost run is handed over (once, whatever the number of sweepers), the attempt cap."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select, update

from app.db import make_engine, make_sessionmaker, session_scope
from app.liveness import live_workers
from app.migrate import upgrade
from app.models import Job, JobStatus, TaskLease, WorkerBeat, utcnow
from app.queue import TASK_SHARD
from tests.conftest_service import PG_ADMIN_URL
from tests.worker.job_rows import add_job
from worker import heartbeat, leases

STALE_S = 45.0
QUEUE = "idc-gpu"


@pytest.fixture(scope="module")
def leases_postgres_url(postgres_url):  # postgres_url: fails clearly when Postgres is down
    """A database of this module's own: its sweeps must not hand over other tests' leases."""
    name = f"idc_leases_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leases.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("leases_postgres_url")
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def job_id(sessions) -> str:
    return add_job(sessions, "leases", status=JobStatus.running)


@dataclass
class Sender:
    sent: list[tuple[str, list]] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)

    def send_task(self, name: str, args: list, queue: str) -> None:
        self.sent.append((name, args))
        self.queues.append(queue)


def _claim(sessions, job_id, worker="w1", step="shard 0", max_attempts=3, queue=None):
    return leases.claim(
        sessions,
        job_id,
        step,
        TASK_SHARD,
        [job_id, 0],
        queue or QUEUE,
        worker,
        STALE_S,
        max_attempts,
    )


def _age(sessions, job_id, seconds: float, step="shard 0") -> None:
    """Make the lease's last heartbeat `seconds` old (as if its run had gone silent)."""
    with session_scope(sessions) as session:
        session.execute(
            update(TaskLease)
            .where(TaskLease.job_id == job_id, TaskLease.step == step)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def _lease(sessions, job_id, step="shard 0") -> TaskLease | None:
    with sessions() as session:
        return session.get(TaskLease, (job_id, step))


def test_a_live_lease_keeps_a_second_delivery_out_and_a_stale_one_is_taken(sessions, job_id):
    first = _claim(sessions, job_id, "w1")
    assert isinstance(first, leases.Lease) and first.attempts == 1
    assert _claim(sessions, job_id, "w2") == leases.Busy("w1")
    _age(sessions, job_id, STALE_S - 5)
    assert isinstance(_claim(sessions, job_id, "w2"), leases.Busy)
    assert leases.renew(sessions, first)

    _age(sessions, job_id, STALE_S + 1)
    second = _claim(sessions, job_id, "w2")
    assert isinstance(second, leases.Lease) and second.attempts == 2
    assert not leases.renew(sessions, first)  # the lost run learns it was taken over
    leases.release(sessions, first)  # and its ending does not drop the new run's lease
    assert _lease(sessions, job_id).token == second.token

    leases.release(sessions, second)
    assert _lease(sessions, job_id) is None
    again = _claim(sessions, job_id, "w3")  # a step that ended starts counting afresh
    assert isinstance(again, leases.Lease) and again.attempts == 1


def test_a_step_lost_past_the_cap_is_refused_with_a_clear_message(sessions, job_id):
    for attempt in (1, 2):
        claimed = _claim(sessions, job_id, f"w{attempt}", step="prepare", max_attempts=2)
        assert isinstance(claimed, leases.Lease) and claimed.attempts == attempt
        _age(sessions, job_id, STALE_S + 1, step="prepare")
    refused = _claim(sessions, job_id, "w3", step="prepare", max_attempts=2)
    assert refused == leases.Exhausted(3)
    assert refused.message("prepare") == (
        "the prepare step was started 2 times without finishing (its worker was lost each "
        "time, e.g. out of memory); giving up"
    )
    assert _lease(sessions, job_id, "prepare") is None


def test_the_sweep_resends_a_stale_lease_once_and_the_next_claim_takes_it(sessions, job_id):
    lost = _claim(sessions, job_id, "w1")
    live = _claim(sessions, job_id, "w1", step="shard 1")
    assert isinstance(lost, leases.Lease) and isinstance(live, leases.Lease)
    _age(sessions, job_id, STALE_S + 1)
    sender = Sender()
    # A worker of another queue (another broker, maybe) leaves it to the workers of its own.
    assert leases.sweep(sessions, sender, STALE_S, "idc-cpu") == []
    assert leases.sweep(sessions, sender, STALE_S, QUEUE) == [(job_id, "shard 0")]
    assert sender.sent == [(TASK_SHARD, [job_id, 0])]
    assert sender.queues == [QUEUE]
    handed = _lease(sessions, job_id)
    assert handed.token is None and handed.worker is None and handed.attempts == 1
    assert leases.sweep(sessions, sender, STALE_S, QUEUE) == []  # handed over: not re-sent again
    assert len(sender.sent) == 1

    taken = _claim(sessions, job_id, "w2")  # the re-sent task claims it at once
    assert isinstance(taken, leases.Lease) and taken.attempts == 2
    assert not leases.renew(sessions, lost)


def test_a_failed_send_leaves_the_lease_stale_for_the_next_sweep(sessions, job_id):
    _claim(sessions, job_id, "w1")
    _age(sessions, job_id, STALE_S + 1)

    class Down:
        def send_task(self, name, args, queue):
            raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        leases.sweep(sessions, Down(), STALE_S, QUEUE)
    assert _lease(sessions, job_id).token is not None
    sender = Sender()
    assert leases.sweep(sessions, sender, STALE_S, QUEUE) == [(job_id, "shard 0")]
    assert len(sender.sent) == 1


def test_concurrent_sweepers_resend_each_lost_step_exactly_once(sessions, job_id):
    for index in range(6):
        _claim(sessions, job_id, "w1", step=f"shard {index}")
        _age(sessions, job_id, STALE_S + 1, step=f"shard {index}")
    senders = [Sender() for _ in range(4)]
    barrier = threading.Barrier(len(senders))

    def run(sender: Sender) -> None:
        barrier.wait()
        leases.sweep(sessions, sender, STALE_S, QUEUE)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [task for sender in senders for task in sender.sent]
    assert len(sent) == 6, sent


def test_the_sweep_drops_stale_leases_of_finished_jobs(sessions, job_id):
    _claim(sessions, job_id, "w1")
    _age(sessions, job_id, STALE_S + 1)
    with session_scope(sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.cancelled))
    sender = Sender()
    assert leases.sweep(sessions, sender, STALE_S, QUEUE) == []
    assert sender.sent == [] and _lease(sessions, job_id) is None


def test_the_run_keeper_renews_and_flags_a_run_whose_lease_was_taken(sessions, job_id):
    lease = _claim(sessions, job_id, "w1")
    assert isinstance(lease, leases.Lease)
    assert not heartbeat.run_lost()
    with heartbeat.keep(sessions, lease, interval_s=0.1) as keeper:
        _age(sessions, job_id, 30)
        time.sleep(0.5)
        assert (utcnow() - _lease(sessions, job_id).heartbeat_at).total_seconds() < 5
        assert not heartbeat.run_lost()

        # A sweeper whose clock reads a stale heartbeat hands the lease over while the run works.
        later = utcnow() + timedelta(seconds=STALE_S + 1)
        assert (job_id, "shard 0") in leases.sweep(sessions, Sender(), STALE_S, QUEUE, now=later)
        deadline = time.monotonic() + 5
        while not keeper.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heartbeat.run_lost()
    assert not heartbeat.run_lost()
    assert _lease(sessions, job_id).token is None  # the lost run left the handed-over lease


def test_keep_releases_the_lease_however_the_step_ends(sessions, job_id):
    lease = _claim(sessions, job_id, "w1")
    assert isinstance(lease, leases.Lease)
    with pytest.raises(RuntimeError), heartbeat.keep(sessions, lease, interval_s=10):
        raise RuntimeError("the step failed")
    assert _lease(sessions, job_id) is None


def test_worker_rows_count_while_they_beat_and_expire_after(sessions):
    queue = "q-liveness"
    heartbeat.write_worker_row(sessions, "celery@a:1", 1, queue)
    heartbeat.write_worker_row(sessions, "celery@a:1", 1, queue)  # refreshed, not doubled
    heartbeat.write_worker_row(sessions, "celery@b:2", 2, "another-queue")
    assert live_workers(sessions, queue, STALE_S) == 1
    with session_scope(sessions) as session:
        session.execute(
            update(WorkerBeat)
            .where(WorkerBeat.id == "celery@a:1")
            .values(last_seen=utcnow() - timedelta(seconds=STALE_S + 1))
        )
    assert live_workers(sessions, queue, STALE_S) == 0
    assert heartbeat.drop_expired_workers(sessions, STALE_S) >= 1
    with sessions() as session:
        ids = set(session.scalars(select(WorkerBeat.id)))
    assert "celery@a:1" not in ids and "celery@b:2" in ids
    heartbeat.remove_worker_row(sessions, "celery@b:2")
    assert live_workers(sessions, "another-queue", STALE_S) == 0


def test_the_worker_loop_runs_every_duty_even_when_one_fails():
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise RuntimeError("database down")

    loop = heartbeat.WorkerLoop([failing, lambda: calls.append("next")], interval_s=10)
    loop.run_once()
    assert calls == ["failing", "next"]


def test_the_worker_loop_deletes_the_files_of_jobs_past_retention(tmp_path, job_id, sessions):
    """The periodic duties of every worker include app.cleanup's sweep: a failed job's stored
    instances go once IDC_UNFINISHED_RETENTION_S has passed, a fresher one's stay."""
    from app import keys
    from app.models import Shard
    from app.storage import make_storage
    from tests.conftest_service import make_settings

    settings = make_settings(data_dir=tmp_path / "idc", unfinished_retention_s=3600)
    settings.ensure_local_dirs()
    storage = make_storage(settings)
    with session_scope(sessions) as session:
        old = session.get(Job, job_id)
        fresh = Job(
            owner="leases", method="idc", params={}, spec={}, request_digest="e", timings={}
        )
        session.add(fresh)
        session.flush()
        for job, age_s in ((old, 7200), (fresh, 60)):
            job.status, job.finished_at = JobStatus.failed, utcnow() - timedelta(seconds=age_s)
            session.add(Shard(job_id=job.id, index=0, images=["a"], instances_total=1))
            storage.put_bytes(keys.job_output_prefix(job.id) + "instances/a.json", b"{}")
        fresh_id = fresh.id
    duties = heartbeat.worker_duties(settings, sessions, Sender(), "w:1")
    heartbeat.WorkerLoop(duties, 1.0).run_once()
    assert storage.list_keys(f"jobs/{job_id}/") == []
    assert storage.list_keys(f"jobs/{fresh_id}/") != []

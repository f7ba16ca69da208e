"""Job and shard transitions on Postgres: conditional, counted once, safe under concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.db import make_engine, make_sessionmaker, session_scope
from app.models import Job, JobStage, JobStatus, Shard
from tests.worker.job_rows import add_job
from worker import jobstate


@pytest.fixture(scope="module")
def sessions(stack_settings):
    engine = make_engine(stack_settings.sqlalchemy_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def job_id(sessions) -> str:
    return add_job(sessions, "jobstate")


def _job(sessions, job_id) -> Job:
    with sessions() as session:
        return session.get(Job, job_id)


def test_start_and_finish_are_conditional(sessions, job_id):
    assert jobstate.start_job(sessions, job_id).status == JobStatus.running
    assert jobstate.start_job(sessions, job_id).status == JobStatus.running  # redelivered
    jobstate.set_stage(sessions, job_id, JobStage.condensing)
    assert jobstate.finish(sessions, job_id, JobStatus.succeeded, manifest={"pairs": 1})
    assert not jobstate.finish(sessions, job_id, JobStatus.failed, "too late")
    job = _job(sessions, job_id)
    assert (job.status, job.error, job.stage, job.manifest) == (
        "succeeded",
        None,
        "done",
        {"pairs": 1},
    )
    assert {"condensing", "total"} <= set(job.timings)
    assert jobstate.start_job(sessions, job_id) is None
    assert jobstate.cancel_requested(sessions, job_id)  # a finished job must not run on


def test_shards_are_created_once_and_counted_once(sessions, job_id):
    names = ["a", "b", "c", "d", "e"]
    assert jobstate.create_shards(sessions, job_id, names, 2) == [0, 1, 2]
    assert jobstate.create_shards(sessions, job_id, names, 3) == [0, 1, 2]  # first split kept
    assert jobstate.load_shards(sessions, job_id) == [["a", "b"], ["c", "d"], ["e"]]
    job = _job(sessions, job_id)
    assert (job.shards_total, job.instances_total) == (3, 5)

    with sessions() as session:
        ids = session.scalars(
            select(Shard.id).where(Shard.job_id == job_id).order_by(Shard.index)
        ).all()
    assert jobstate.start_shard(sessions, ids[0]) == 1
    assert jobstate.start_shard(sessions, ids[0]) == 2  # a second delivery
    assert not jobstate.complete_shard(sessions, job_id, ids[0])
    assert not jobstate.complete_shard(sessions, job_id, ids[0])  # the duplicate ends too
    assert jobstate.start_shard(sessions, ids[0]) is None  # a late duplicate: stays succeeded
    assert _job(sessions, job_id).shards_done == 1
    assert jobstate.create_shards(sessions, job_id, names, 2) == [1, 2]

    # The last two shards end at the same moment: exactly one of them sees the job complete.
    barrier, results = threading.Barrier(2), []

    def complete(shard_id: int) -> None:
        barrier.wait()
        results.append(jobstate.complete_shard(sessions, job_id, shard_id))

    threads = [threading.Thread(target=complete, args=(i,)) for i in ids[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert _job(sessions, job_id).shards_done == 3


def test_cancel_flag_and_failure_mark_unfinished_shards(sessions, job_id):
    jobstate.start_job(sessions, job_id)
    jobstate.create_shards(sessions, job_id, ["a", "b"], 1)
    assert not jobstate.cancel_requested(sessions, job_id)
    with session_scope(sessions) as session:
        session.get(Job, job_id).cancel_requested = True
    assert jobstate.cancel_requested(sessions, job_id)
    assert jobstate.finish(sessions, job_id, JobStatus.cancelled)
    with sessions() as session:
        statuses = session.scalars(select(Shard.status).where(Shard.job_id == job_id)).all()
    assert statuses == ["cancelled", "cancelled"]


def test_stage_progress_and_timings(sessions, job_id):
    jobstate.start_job(sessions, job_id)
    jobstate.set_stage(sessions, job_id, JobStage.training_teacher)
    jobstate.set_stage_progress(sessions, job_id, 0.5)
    assert _job(sessions, job_id).stage_progress == 0.5
    jobstate.set_stage(sessions, job_id, JobStage.condensing)
    job = _job(sessions, job_id)
    assert job.stage == "condensing" and job.stage_progress == 0.0
    assert job.timings["training_teacher"] >= 0

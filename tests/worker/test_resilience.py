"""Real Celery worker processes under stress: one is killed mid-shard and another takes its shard
over, one runs past the soft time limit. Each test has its own queue on its own Redis database
(Redis keeps one unacknowledged-message index per database)."""

from __future__ import annotations

import secrets
import time

import pytest
import redis
from fastapi.testclient import TestClient

from app.config import Settings
from tests.app.e2e_helpers import TINY_JOB, poll_job
from tests.app.handover_helpers import (
    DEFAULTS,
    HANDOVER_JOB,
    HANDOVER_PHOTOS,
    check_handed_over,
    finished_record,
    second_instance_running,
    submit,
)
from tests.conftest_service import auth, new_api_key

RESILIENCE_REDIS_DB = 14


@pytest.fixture
def short_settings(stack_settings: Settings, redis_url: str):
    def make(**limits) -> Settings:
        broker = redis_url.rsplit("/", 1)[0] + f"/{RESILIENCE_REDIS_DB}"
        return stack_settings.model_copy(
            update={
                "queue": f"idc-resilience-{secrets.token_hex(4)}",
                "broker_url": broker,
                **limits,
            }
        )

    yield make
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{RESILIENCE_REDIS_DB}")
    client.flushdb()
    client.close()


@pytest.mark.slow
def test_a_job_whose_worker_dies_finishes_on_another_worker(
    short_settings, photos_dir, spawn_worker
):
    # The deployed defaults: Redis would re-deliver the lost task only after 6 h 15 min; the
    # lease of the lost shard goes stale after 45 s and the second worker's sweep re-sends it.
    assert DEFAULTS["broker_visibility_timeout_s"] == 22500
    settings = short_settings(shard_size=2, **DEFAULTS)
    from app.main import create_app

    paths = [photos_dir / name for name in HANDOVER_PHOTOS]
    first = spawn_worker(settings, "first")
    with TestClient(create_app(settings)) as client:
        storage = client.app.state.storage
        headers = auth(new_api_key(settings, "resilience"))
        first.wait_ready()
        job_id = submit(client, headers, paths, HANDOVER_JOB)
        poll_job(client, headers, job_id, timeout=180, until=second_instance_running)
        first.kill()
        finished = finished_record(storage, job_id)
        assert list(finished) == ["chelsea"]

        second = spawn_worker(settings, "second")
        second.wait_ready()
        # Stale after 45 s, swept within 10 s, then the shard runs again. How fast is the figure
        # of benchmarks/worker_kill.py; this bound (a shared, loaded machine) only has to be far
        # below the 6 h 15 min after which Redis would re-deliver the task.
        job = poll_job(client, headers, job_id, timeout=420)
        assert job["status"] == "succeeded", (job, second.log()[-3000:])
        assert "re-sent idc.run_shard" in second.log()

        check_handed_over(
            client,
            headers,
            storage,
            client.app.state.sessionmaker,
            job_id,
            [p.stem for p in paths],
            finished,
        )


@pytest.mark.slow
def test_a_task_past_the_soft_time_limit_fails_its_job_cleanly(
    short_settings, photos_dir, spawn_worker
):
    settings = short_settings(
        task_soft_time_limit_s=4, task_time_limit_s=30, broker_visibility_timeout_s=40
    )
    from app.main import create_app

    worker = spawn_worker(settings)
    with TestClient(create_app(settings)) as client:
        headers = auth(new_api_key(settings, "soft-limit"))
        worker.wait_ready()
        endless_teacher = {**TINY_JOB["teacher"], "iterations": 1_000_000}
        job_id = submit(
            client, headers, [photos_dir / "chelsea.png"], {**TINY_JOB, "teacher": endless_teacher}
        )
        started = time.monotonic()
        job = poll_job(client, headers, job_id, timeout=120)
    assert job["status"] == "failed"
    assert "soft time limit of 4s" in job["error"]
    assert job["stage"] == "training_teacher"
    assert time.monotonic() - started < 60

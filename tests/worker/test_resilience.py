"""Real Celery worker processes under stress: one is killed mid-shard, one runs past the soft
time limit. Each test has its own queue on its own Redis database (visibility timeouts are short
here, and Redis keeps one unacknowledged-message index per database)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from app.config import Settings
from tests.app.e2e_helpers import TINY_JOB, check_archive, download, poll_job, zip_files
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


def _submit(client: TestClient, headers, paths: list[Path], job: dict) -> str:
    upload = client.post(
        "/datasets", headers=headers, files={"archive": ("d.zip", zip_files(paths))}
    )
    assert upload.status_code == 201, upload.text
    response = client.post(
        "/condense", headers=headers, json={**job, "dataset_id": upload.json()["id"]}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.mark.slow
def test_a_job_whose_worker_dies_finishes_on_another_worker(
    short_settings, photos_dir, spawn_worker
):
    settings = short_settings(
        task_soft_time_limit_s=40,
        task_time_limit_s=45,
        broker_visibility_timeout_s=50,
        shard_size=2,
    )
    from app.main import create_app

    paths = [photos_dir / name for name in ("chelsea.png", "coffee.png", "rocket.png")]
    # About 2-3 s per instance here: long enough to kill the worker inside the second one.
    job_spec = {**TINY_JOB, "iterations": 400}
    first = spawn_worker(settings, "first")
    with TestClient(create_app(settings)) as client:
        storage = client.app.state.storage
        headers = auth(new_api_key(settings, "resilience"))
        first.wait_ready()
        job_id = _submit(client, headers, paths, job_spec)

        def second_instance_running(job) -> bool:
            if job["status"] != "running" or job["stage"] != "condensing":
                return False
            return 1.05 < job["progress"]["fraction"] * 3 < 2  # shard 0: one done, one started

        poll_job(client, headers, job_id, timeout=180, until=second_instance_running)
        first.kill()
        markers = storage.list_keys(f"jobs/{job_id}/output/instances/")
        assert markers == [f"jobs/{job_id}/output/instances/chelsea.json"]
        written_at = storage.client.head_object(Bucket=storage.bucket, Key=markers[0])[
            "LastModified"
        ]
        seconds = json.loads(storage.get_bytes(markers[0]))["seconds"]

        second = spawn_worker(settings, "second")
        second.wait_ready()
        job = poll_job(client, headers, job_id, timeout=240)
        assert job["status"] == "succeeded", (job, second.log()[-3000:])

        # Nothing lost, nothing duplicated: each instance once, its files exactly once.
        result = client.get(f"/jobs/{job_id}/result", headers=headers).json()
        manifest = check_archive(
            download(result["url"]).content, job_id, 4, [p.stem for p in paths]
        )
        assert sorted(i["name"] for i in manifest["instances"]) == sorted(p.stem for p in paths)
        # The intermediate files went once the result was stored.
        assert storage.list_keys(f"jobs/{job_id}/output/") == []
        # The instance finished before the kill was not redone: its record is the stored one
        # (its marker was written before the kill, and never again).
        chelsea = next(i for i in manifest["instances"] if i["name"] == "chelsea")
        assert chelsea["seconds"] == seconds and written_at is not None
        with client.app.state.sessionmaker() as session:
            from sqlalchemy import select

            from app.models import Shard

            attempts = dict(
                session.execute(
                    select(Shard.index, Shard.attempts).where(Shard.job_id == job_id)
                ).all()
            )
        assert attempts == {0: 2, 1: 1}


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
        job_id = _submit(
            client, headers, [photos_dir / "chelsea.png"], {**TINY_JOB, "teacher": endless_teacher}
        )
        started = time.monotonic()
        job = poll_job(client, headers, job_id, timeout=120)
    assert job["status"] == "failed"
    assert "soft time limit of 4s" in job["error"]
    assert job["stage"] == "training_teacher"
    assert time.monotonic() - started < 60

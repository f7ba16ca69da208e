"""Shard runs in this process, on Postgres and the S3 server: a shard that runs again writes
nothing twice, and a shard cut short resumes from what is in storage."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import keys
from app.db import make_engine, make_sessionmaker, session_scope
from app.models import Job, Shard
from app.queue import TASK_ASSEMBLE, TASK_SHARD
from app.storage.s3 import S3Storage
from tests.app.e2e_helpers import TINY_JOB, check_archive, zip_files
from tests.conftest_service import auth, new_api_key
from worker import pipeline
from worker.runtime import Runtime


class CountingS3(S3Storage):
    """The real S3 backend, counting how often each key is written."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writes: Counter[str] = Counter()

    def put_stream(self, key, stream) -> None:
        self.writes[key] += 1
        super().put_stream(key, stream)


@dataclass
class SentTasks:
    """Records what the pipeline queues, so each test runs the steps itself, in order."""

    sent: list[tuple[str, list]] = field(default_factory=list)

    def send_task(self, name: str, args: list) -> None:
        self.sent.append((name, args))


@pytest.fixture
def rt(stack_settings, s3_server, tmp_path):
    settings = stack_settings.model_copy(update={"work_dir": tmp_path / "work", "shard_size": 2})
    storage = CountingS3(
        s3_server.bucket,
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        "us-east-1",
    )
    engine = make_engine(settings.sqlalchemy_url)
    yield Runtime(settings, engine, make_sessionmaker(engine), storage)
    engine.dispose()


def _submit(rt, photos_dir, **changes) -> tuple[str, list[str]]:
    """Submit a job through the API (on a queue no worker reads) and run its prepare step."""
    from app.main import create_app

    paths = [photos_dir / name for name in ("chelsea.png", "coffee.png", "rocket.png")]
    settings = rt.settings.model_copy(update={"queue": "idc-test-nobody"})
    with TestClient(create_app(settings)) as client:
        headers = auth(new_api_key(settings, "shards"))
        upload = client.post(
            "/datasets", headers=headers, files={"archive": ("d.zip", zip_files(paths))}
        )
        body = {**TINY_JOB, "dataset_id": upload.json()["id"], **changes}
        response = client.post("/condense", headers=headers, json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"], [p.stem for p in paths]


@pytest.fixture
def submitted_job(rt, photos_dir):
    """An IDC job, prepared: its teacher trained, two shards (of 2 and 1 images) queued."""
    job_id, names = _submit(rt, photos_dir)
    queue = SentTasks()
    pipeline.prepare(rt, queue, job_id)
    assert queue.sent == [(TASK_SHARD, [job_id, 0]), (TASK_SHARD, [job_id, 1])]
    return job_id, names


def _outputs(rt, job_id) -> list[str]:
    return rt.storage.list_keys(keys.job_output_prefix(job_id))


def test_a_shard_that_runs_twice_writes_each_instance_once(rt, submitted_job):
    job_id, names = submitted_job
    queue = SentTasks()
    pipeline.run_shard(rt, queue, job_id, 0)
    first = dict(rt.storage.writes)
    outputs = _outputs(rt, job_id)
    assert {k for k in outputs if "/instances/" in k} == {
        f"jobs/{job_id}/output/instances/{n}.json" for n in names[:2]
    }
    assert all(count == 1 for key, count in first.items() if key.startswith(f"jobs/{job_id}/"))

    # Redelivered after it finished (its acknowledgement was lost): nothing is written again,
    # and it is counted once.
    pipeline.run_shard(rt, queue, job_id, 0)
    assert dict(rt.storage.writes) == first
    assert _outputs(rt, job_id) == outputs
    with rt.sessions() as session:
        assert session.get(Job, job_id).shards_done == 1
    assert queue.sent == []  # shard 1 has not run: no assembly yet

    pipeline.run_shard(rt, queue, job_id, 1)
    assert queue.sent == [(TASK_ASSEMBLE, [job_id])]
    pipeline.assemble(rt, job_id)
    with rt.sessions() as session:
        job = session.get(Job, job_id)
    assert job.status == "succeeded" and job.manifest["pairs"] > 0
    data = rt.storage.get_bytes(job.result_key)
    check_archive(data, job_id, 4, names)
    # Once the result is stored, the intermediate instances are deleted: only the result stays.
    assert _outputs(rt, job_id) == []
    assert rt.storage.list_keys(f"jobs/{job_id}/") == [
        f"jobs/{job_id}/result/{name}"
        for name in (f"idc-{job_id}.zip", "manifest.json", "preview.png")
    ]
    assert job.result_bytes == sum(
        len(rt.storage.get_bytes(key)) for key in rt.storage.list_keys(f"jobs/{job_id}/result/")
    )


def test_a_shard_cut_short_redoes_only_the_unfinished_instance(rt, submitted_job):
    job_id, names = submitted_job
    pipeline.run_shard(rt, SentTasks(), job_id, 0)
    # As if the worker died while its second instance ran: that marker never reached storage.
    lost_marker = f"jobs/{job_id}/output/instances/{names[1]}.json"
    rt.storage.client.delete_object(Bucket=rt.storage.bucket, Key=lost_marker)
    with session_scope(rt.sessions) as session:
        shard = session.scalar(select(Shard).where(Shard.job_id == job_id, Shard.index == 0))
        shard.status = "running"
    before = Counter(rt.storage.writes)
    pipeline.run_shard(rt, SentTasks(), job_id, 0)
    rewritten = {key for key, count in rt.storage.writes.items() if count > before[key]}
    assert lost_marker in rewritten
    assert all(f"/{names[1]}" in key for key in rewritten), rewritten
    with rt.sessions() as session:
        shard = session.scalar(select(Shard).where(Shard.job_id == job_id, Shard.index == 0))
    assert (shard.attempts, shard.instances_done, shard.progress) == (2, 2, 2.0)


def test_a_resumed_selection_baseline_keeps_its_global_choice(rt, photos_dir):
    job_id, names = _submit(rt, photos_dir, method="random", teacher=None, ratio=0.2)
    queue = SentTasks()
    pipeline.prepare(rt, queue, job_id)
    assert queue.sent == [(TASK_SHARD, [job_id, 0])]  # the whole set is one shard
    pipeline.run_shard(rt, queue, job_id, 0)
    marker = f"jobs/{job_id}/output/instances/{names[1]}.json"
    chosen = json.loads(rt.storage.get_bytes(marker))["stems"]

    rt.storage.client.delete_object(Bucket=rt.storage.bucket, Key=marker)
    with session_scope(rt.sessions) as session:
        session.scalar(select(Shard).where(Shard.job_id == job_id)).status = "running"
    pipeline.run_shard(rt, queue, job_id, 0)
    # Re-selected over all three images (not only the unfinished one): the same pairs.
    assert json.loads(rt.storage.get_bytes(marker))["stems"] == chosen
    assert rt.storage.writes[marker] == 2
    assert queue.sent[-1] == (TASK_ASSEMBLE, [job_id])

"""POST /jobs/{id}/retry and DELETE /jobs/{id} on the real database, broker and S3 server, with a
queue no worker reads; and app.cleanup.sweep_expired on job rows and objects made here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.cleanup import sweep_expired
from app.db import make_engine, make_sessionmaker, session_scope
from app.models import Job, JobStatus, Shard, ShardStatus, utcnow
from tests.app.e2e_helpers import TINY_JOB, zip_files
from tests.conftest_service import auth, new_api_key

OWNER = "retry-owner"


@pytest.fixture(scope="module")
def headers(api_settings):
    return auth(new_api_key(api_settings, OWNER))


@pytest.fixture(scope="module")
def dataset_id(api_client, headers, photos_dir) -> str:
    archive = zip_files([photos_dir / "chelsea.png", photos_dir / "coffee.png"])
    response = api_client.post("/datasets", headers=headers, files={"archive": ("d.zip", archive)})
    assert response.status_code == 201
    return response.json()["id"]


@pytest.fixture(scope="module")
def sessions(api_settings):
    engine = make_engine(api_settings.sqlalchemy_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _submit(client, headers, dataset_id, key=None) -> str:
    extra = {"Idempotency-Key": key} if key else {}
    body = {**TINY_JOB, "dataset_id": dataset_id}
    response = client.post("/condense", headers=headers | extra, json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_only_a_failed_or_cancelled_job_is_retried(api_client, headers, dataset_id):
    job_id = _submit(api_client, headers, dataset_id, key="retry-me")
    queued = api_client.post(f"/jobs/{job_id}/retry", headers=headers)
    assert queued.status_code == 409 and "only a failed or cancelled job" in queued.json()["detail"]
    api_client.post(f"/jobs/{job_id}/cancel", headers=headers)

    retried = api_client.post(f"/jobs/{job_id}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    job = retried.json()
    assert (job["status"], job["stage"], job["error"]) == ("queued", "queued", None)
    assert job["cancel_requested"] is False and job["finished_at"] is None
    assert "retry" not in job["links"]
    # The same Idempotency-Key still answers the same job.
    assert _submit(api_client, headers, dataset_id, key="retry-me") == job_id
    other = auth(new_api_key(api_client.app.state.settings, "retry-stranger"))
    assert api_client.post(f"/jobs/{job_id}/retry", headers=other).status_code == 404


def test_a_job_whose_dataset_is_gone_is_not_retried(api_client, headers, dataset_id, sessions):
    job_id = _submit(api_client, headers, dataset_id)
    api_client.post(f"/jobs/{job_id}/cancel", headers=headers)
    with session_scope(sessions) as session:  # as a job of before ?cascade=true was left
        session.execute(update(Job).where(Job.id == job_id).values(dataset_id=None))
    refused = api_client.post(f"/jobs/{job_id}/retry", headers=headers)
    assert refused.status_code == 409 and "dataset" in refused.json()["detail"]


def test_a_job_is_deleted_once_finished_with_its_files(api_client, headers, dataset_id):
    storage = api_client.app.state.storage
    job_id = _submit(api_client, headers, dataset_id)
    refused = api_client.delete(f"/jobs/{job_id}", headers=headers)
    assert refused.status_code == 409
    assert f"cancel it first (POST /jobs/{job_id}/cancel)" in refused.json()["detail"]
    api_client.post(f"/jobs/{job_id}/cancel", headers=headers)
    for key in ("output/instances/a.json", "output/HR/a_0000.png", "result/manifest.json"):
        storage.put_bytes(f"jobs/{job_id}/{key}", b"x")
    other = auth(new_api_key(api_client.app.state.settings, "delete-stranger"))
    assert api_client.delete(f"/jobs/{job_id}", headers=other).status_code == 404
    assert api_client.delete(f"/jobs/{job_id}", headers=headers).status_code == 204
    assert storage.list_keys(f"jobs/{job_id}/") == []
    assert api_client.get(f"/jobs/{job_id}", headers=headers).status_code == 404
    assert api_client.get(f"/datasets/{dataset_id}", headers=headers).status_code == 200


def _finished_job(sessions, spec, dataset_id, status, ended_ago, shards) -> str:
    """A job row as a worker leaves it: `shards` maps index -> (images, status)."""
    with session_scope(sessions) as session:
        job = Job(
            owner=OWNER,
            dataset_id=dataset_id,
            method="idc",
            params={},
            spec=spec,
            request_digest="d",
            status=status,
            stage="condensing",
            instances_total=sum(len(images) for images, _ in shards.values()),
            shards_total=len(shards),
            shards_done=sum(s == ShardStatus.succeeded for _, s in shards.values()),
            timings={"condensing": 5.0, "total": 6.0},
            error="boom" if status == JobStatus.failed else None,
            started_at=utcnow() - ended_ago - timedelta(minutes=1),
            finished_at=utcnow() - ended_ago,
        )
        session.add(job)
        session.flush()
        for index, (images, shard_status) in shards.items():
            session.add(
                Shard(
                    job_id=job.id,
                    index=index,
                    images=images,
                    status=shard_status,
                    instances_total=len(images),
                    instances_done=len(images) if shard_status == ShardStatus.succeeded else 0,
                    attempts=2,
                )
            )
        return job.id


def _store_instance(storage, job_id: str, name: str) -> None:
    storage.put_bytes(f"jobs/{job_id}/output/HR/{name}_0000.png", b"png")
    storage.put_bytes(f"jobs/{job_id}/output/instances/{name}.json", b"{}")


def test_expired_unfinished_jobs_are_swept_and_recent_ones_kept(
    api_client, headers, dataset_id, sessions
):
    storage = api_client.app.state.storage
    spec = api_client.get(f"/jobs/{_submit(api_client, headers, dataset_id)}", headers=headers)
    spec = spec.json()["spec"]
    two_shards = {0: (["chelsea"], ShardStatus.succeeded), 1: (["coffee"], ShardStatus.failed)}
    old = _finished_job(sessions, spec, dataset_id, JobStatus.failed, timedelta(days=8), two_shards)
    recent = _finished_job(
        sessions, spec, dataset_id, JobStatus.cancelled, timedelta(days=1), two_shards
    )
    succeeded = _finished_job(
        sessions,
        spec,
        dataset_id,
        JobStatus.succeeded,
        timedelta(days=30),
        {0: (["c"], "succeeded")},
    )
    for job_id in (old, recent):
        _store_instance(storage, job_id, "chelsea")
        storage.put_bytes(f"jobs/{job_id}/result/manifest.json", b"{}")
    storage.put_bytes(f"jobs/{succeeded}/result/manifest.json", b"{}")

    assert sweep_expired(sessions, storage, utcnow(), 7 * 86400) == 1
    assert storage.list_keys(f"jobs/{old}/") == []
    assert len(storage.list_keys(f"jobs/{recent}/")) == 3
    assert storage.list_keys(f"jobs/{succeeded}/") == [f"jobs/{succeeded}/result/manifest.json"]
    with sessions() as session:
        assert session.scalars(select(Shard).where(Shard.job_id == old)).all() == []
        assert session.get(Job, old).shards_total == 0
        assert len(session.scalars(select(Shard).where(Shard.job_id == recent)).all()) == 2
    assert sweep_expired(sessions, storage, utcnow(), 7 * 86400) == 0  # never looked at again

    # The swept job is retried from scratch (no shards: it is split again); the recent one keeps
    # its whole shard and redoes only the other, with fresh attempts.
    assert api_client.post(f"/jobs/{old}/retry", headers=headers).status_code == 202
    response = api_client.post(f"/jobs/{recent}/retry", headers=headers)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["timings"] == {} and job["started_at"] is None
    assert job["progress"]["shards_done"] == 1
    with sessions() as session:
        assert session.scalars(select(Shard).where(Shard.job_id == old)).all() == []
        shards = session.scalars(select(Shard).where(Shard.job_id == recent)).all()
        states = {s.index: (s.status, s.attempts) for s in shards}
    assert states == {0: ("succeeded", 2), 1: ("pending", 0)}
    assert len(storage.list_keys(f"jobs/{recent}/output/")) == 2  # reused, not deleted

"""Deletion, clean-up and retry on the full stack: Postgres, Redis, a real Celery worker, S3.

Every object of the bucket is listed before and after, so that what a job leaves behind is
counted, not guessed.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save
from sqlalchemy import func, select

from app.cleanup import sweep_expired
from app.db import make_engine, make_sessionmaker
from app.models import Dataset, Job, Shard, Teacher
from tests.app.e2e_helpers import TINY_JOB, download, poll_job, zip_files
from tests.conftest_service import auth, new_api_key, wait_for

# Enough IDC iterations that an instance takes seconds: a job can be cancelled between two.
SLOW_INSTANCES = {**TINY_JOB, "iterations": 150}


@pytest.fixture(scope="module")
def client(stack_app, celery_worker):
    with TestClient(stack_app) as client:
        yield client


@pytest.fixture(scope="module")
def sessions(stack_settings):
    engine = make_engine(stack_settings.sqlalchemy_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _all_keys(client) -> set[str]:
    return set(client.app.state.storage.list_keys(""))


def _upload(client, headers, photos_dir, names) -> str:
    archive = zip_files([photos_dir / name for name in names])
    response = client.post("/datasets", headers=headers, files={"archive": ("d.zip", archive)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _run(client, headers, body) -> dict:
    response = client.post("/condense", headers=headers, json=body)
    assert response.status_code == 202, response.text
    return poll_job(client, headers, response.json()["id"], timeout=300)


@pytest.mark.slow
def test_an_owner_who_deletes_everything_leaves_no_object_and_no_row(
    client, stack_settings, sessions, photos_dir
):
    before = _all_keys(client)
    headers = auth(new_api_key(stack_settings, "deletes-everything"))
    dataset_id = _upload(client, headers, photos_dir, ["chelsea.png", "coffee.png"])
    weights = save({"head.weight": np.zeros((8, 3, 3, 3), np.float32)})
    teacher = client.post(
        "/teachers", headers=headers, files={"checkpoint": ("m.safetensors", weights)}
    )
    assert teacher.status_code == 201, teacher.text

    idc = _run(client, headers, {**TINY_JOB, "dataset_id": dataset_id})
    assert idc["status"] == "succeeded", idc
    # The intermediate instances go once the job has succeeded: only the result is left.
    _wait_until_only_the_result_is_left(client, idc["id"])
    job_keys = client.app.state.storage.list_keys(f"jobs/{idc['id']}/")
    assert job_keys == [
        f"jobs/{idc['id']}/result/{name}"
        for name in (f"idc-{idc['id']}.zip", "manifest.json", "preview.png")
    ]
    with sessions() as session:
        assert session.get(Job, idc["id"]).result_bytes > 0  # counted by the stored-bytes quota
    random = _run(
        client, headers, {**TINY_JOB, "dataset_id": dataset_id, "method": "random", "teacher": None}
    )
    assert random["status"] == "succeeded", random
    result_url = client.get(f"/jobs/{idc['id']}/result", headers=headers).json()["url"]
    assert download(result_url).status_code == 200

    # The dataset cannot go while results made from it exist, unless asked.
    refused = client.delete(f"/datasets/{dataset_id}", headers=headers)
    assert refused.status_code == 409 and "2 job(s)" in refused.json()["detail"]
    assert download(result_url).status_code == 200

    assert client.delete(f"/jobs/{idc['id']}", headers=headers).status_code == 204
    assert client.get(f"/jobs/{idc['id']}", headers=headers).status_code == 404
    assert client.delete(f"/jobs/{idc['id']}", headers=headers).status_code == 404
    assert client.app.state.storage.list_keys(f"jobs/{idc['id']}/") == []
    assert download(result_url).status_code in (403, 404)

    cascade = client.delete(f"/datasets/{dataset_id}", headers=headers, params={"cascade": "true"})
    assert cascade.status_code == 204
    assert client.get(f"/jobs/{random['id']}", headers=headers).status_code == 404
    # The teacher the IDC job trained stayed, listed with the uploaded one; both are deleted.
    teachers = client.get("/teachers", headers=headers).json()["items"]
    assert {t["source"] for t in teachers} == {"uploaded", "trained"}
    for item in teachers:
        assert client.delete(f"/teachers/{item['id']}", headers=headers).status_code == 204

    assert _all_keys(client) - before == set()
    ids = [dataset_id, idc["id"], random["id"], *(t["id"] for t in teachers)]
    assert not [key for key in _all_keys(client) if any(i in key for i in ids)]
    with sessions() as session:
        owner = "deletes-everything"
        for model in (Dataset, Teacher, Job):
            count = select(func.count()).select_from(model).where(model.owner == owner)
            assert session.scalar(count) == 0, model
        shards = select(func.count()).select_from(Shard).where(Shard.job_id.in_(ids))
        assert session.scalar(shards) == 0


def _wait_until_only_the_result_is_left(client, job_id: str) -> None:
    """The worker deletes the intermediates right after it marks the job succeeded."""
    storage = client.app.state.storage
    wait_for(
        lambda: storage.list_keys(f"jobs/{job_id}/output/") == [],
        30,
        f"the intermediate files of job {job_id} to be deleted",
    )


def _cancel_after_first_instance(client, headers, stack_settings, body) -> dict:
    """Submit a job of two one-image shards; cancel it once the first instance is stored."""
    job_id = client.post("/condense", headers=headers, json=body).json()["id"]
    poll_job(
        client,
        headers,
        job_id,
        timeout=300,
        until=lambda job: job["progress"]["instances_done"] >= 1,
    )
    assert client.post(f"/jobs/{job_id}/cancel", headers=headers).status_code == 202
    job = poll_job(client, headers, job_id, timeout=60)
    assert job["status"] == "cancelled", job
    assert job["links"]["retry"].endswith(f"/jobs/{job_id}/retry")
    # The worker's scratch folder goes when the job ends so; its stored instances stay.
    scratch = stack_settings.worker_dir / job_id
    wait_for(lambda: not scratch.exists(), 30, f"{scratch} to be removed")
    return job


def _markers(client, job_id: str) -> dict[str, dict]:
    storage = client.app.state.storage
    prefix = f"jobs/{job_id}/output/instances/"
    return {
        key[len(prefix) : -len(".json")]: json.loads(storage.get_bytes(key))
        for key in storage.list_keys(prefix)
    }


@pytest.mark.slow
def test_retry_of_a_cancelled_job_reuses_its_stored_instances(
    client, stack_settings, sessions, photos_dir
):
    headers = auth(new_api_key(stack_settings, "retries"))
    dataset_id = _upload(client, headers, photos_dir, ["chelsea.png", "coffee.png"])
    body = {**SLOW_INSTANCES, "dataset_id": dataset_id}
    job = _cancel_after_first_instance(client, headers, stack_settings, body)
    stored = _markers(client, job["id"])
    assert list(stored) == ["chelsea"], stored  # one instance whole, the other not
    output_before = client.app.state.storage.list_keys(f"jobs/{job['id']}/output/")
    # Not yet expired: the sweep keeps them.
    with sessions() as session:
        finished_at = session.get(Job, job["id"]).finished_at
    assert (
        sweep_expired(
            sessions, client.app.state.storage, finished_at + timedelta(days=6), 7 * 86400
        )
        == 0
    )
    assert client.app.state.storage.list_keys(f"jobs/{job['id']}/output/") == output_before

    # The old Idempotency-Key would replay the cancelled job: retry is how it resumes.
    retried = client.post(f"/jobs/{job['id']}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued" and retried.json()["error"] is None
    assert not retried.json()["cancel_requested"] and retried.json()["finished_at"] is None
    again = client.post(f"/jobs/{job['id']}/retry", headers=headers)
    assert again.status_code == 409
    done = poll_job(client, headers, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    assert done["progress"]["instances_done"] == 2

    manifest = client.get(f"/jobs/{job['id']}/result", headers=headers).json()["manifest"]
    seconds = {item["name"]: item["seconds"] for item in manifest["instances"]}
    assert seconds["chelsea"] == stored["chelsea"]["seconds"]  # the stored instance, not redone
    with sessions() as session:
        attempts = {
            shard.index: shard.attempts
            for shard in session.scalars(select(Shard).where(Shard.job_id == job["id"]))
        }
    assert attempts == {0: 1, 1: 1}  # shard 0 ran once; shard 1 again from a fresh count
    _wait_until_only_the_result_is_left(client, job["id"])


@pytest.mark.slow
def test_a_job_whose_files_were_swept_is_retried_from_scratch(
    client, stack_settings, sessions, photos_dir
):
    headers = auth(new_api_key(stack_settings, "swept"))
    dataset_id = _upload(client, headers, photos_dir, ["chelsea.png", "coffee.png"])
    body = {**SLOW_INSTANCES, "dataset_id": dataset_id}
    job = _cancel_after_first_instance(client, headers, stack_settings, body)
    stored = _markers(client, job["id"])
    assert stored
    with sessions() as session:
        finished_at = session.get(Job, job["id"]).finished_at
    later = finished_at + timedelta(days=7, seconds=1)
    assert sweep_expired(sessions, client.app.state.storage, later, 7 * 86400) == 1
    assert client.app.state.storage.list_keys(f"jobs/{job['id']}/") == []
    assert sweep_expired(sessions, client.app.state.storage, later, 7 * 86400) == 0

    assert client.post(f"/jobs/{job['id']}/retry", headers=headers).status_code == 202
    done = poll_job(client, headers, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    manifest = client.get(f"/jobs/{job['id']}/result", headers=headers).json()["manifest"]
    seconds = {item["name"]: item["seconds"] for item in manifest["instances"]}
    assert set(seconds) == {"chelsea", "coffee"}
    assert seconds["chelsea"] != stored["chelsea"]["seconds"]  # computed again

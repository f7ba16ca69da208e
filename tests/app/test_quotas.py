"""Per-owner quotas on the real database, broker and S3 server: 429 with Retry-After, nothing
stored by a refused upload."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save

from tests.app.e2e_helpers import TINY_JOB, zip_files
from tests.conftest_service import auth, new_api_key


@pytest.fixture(scope="module")
def quota_client(api_settings, photos_dir):
    """The API with two jobs at once per owner and room for about one small dataset."""
    from app.main import create_app

    room = len(zip_files([photos_dir / "chelsea.png"])) + 1000
    settings = api_settings.model_copy(
        update={"owner_max_active_jobs": 2, "owner_max_stored_bytes": room}
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _upload(client, headers, path):
    archive = zip_files([path])
    return client.post("/datasets", headers=headers, files={"archive": ("d.zip", archive)})


def _submit(client, headers, dataset_id):
    return client.post("/condense", headers=headers, json={**TINY_JOB, "dataset_id": dataset_id})


def test_an_owner_runs_at_most_the_quota_of_jobs_at_once(quota_client, api_settings, photos_dir):
    headers = auth(new_api_key(api_settings, "quota-jobs"))
    dataset_id = _upload(quota_client, headers, photos_dir / "chelsea.png").json()["id"]
    first, second = (_submit(quota_client, headers, dataset_id) for _ in range(2))
    assert first.status_code == second.status_code == 202
    refused = _submit(quota_client, headers, dataset_id)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "2 job(s) queued or running" in refused.json()["detail"]
    listed = quota_client.get("/jobs", headers=headers).json()
    assert listed["total"] == 2  # the refused request left no job

    # Another owner is not held back by this one.
    other = auth(new_api_key(api_settings, "quota-jobs-other"))
    theirs = _upload(quota_client, other, photos_dir / "chelsea.png").json()["id"]
    assert _submit(quota_client, other, theirs).status_code == 202

    # A cancelled job frees a slot; retrying it needs one.
    cancelled = first.json()["id"]
    quota_client.post(f"/jobs/{cancelled}/cancel", headers=headers)
    assert _submit(quota_client, headers, dataset_id).status_code == 202
    retry = quota_client.post(f"/jobs/{cancelled}/retry", headers=headers)
    assert retry.status_code == 429 and int(retry.headers["retry-after"]) > 0
    assert quota_client.get(f"/jobs/{cancelled}", headers=headers).json()["status"] == "cancelled"


def test_uploads_past_the_stored_bytes_quota_store_nothing(quota_client, api_settings, photos_dir):
    headers = auth(new_api_key(api_settings, "quota-bytes"))
    storage = quota_client.app.state.storage
    assert _upload(quota_client, headers, photos_dir / "chelsea.png").status_code == 201
    datasets_before = storage.list_keys("datasets/")
    teachers_before = storage.list_keys("teachers/")

    refused = _upload(quota_client, headers, photos_dir / "coffee.png")
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert "quota" in refused.json()["detail"]
    weights = save({"head.weight": np.zeros((64, 3, 3, 3), np.float32)})
    teacher = quota_client.post(
        "/teachers", headers=headers, files={"checkpoint": ("model.safetensors", weights)}
    )
    assert teacher.status_code == 429, teacher.text
    assert storage.list_keys("datasets/") == datasets_before
    assert storage.list_keys("teachers/") == teachers_before
    assert quota_client.get("/datasets", headers=headers).json()["total"] == 1
    assert quota_client.get("/teachers", headers=headers).json()["total"] == 0

    # Deleting frees the room again.
    dataset_id = quota_client.get("/datasets", headers=headers).json()["items"][0]["id"]
    assert quota_client.delete(f"/datasets/{dataset_id}", headers=headers).status_code == 204
    assert _upload(quota_client, headers, photos_dir / "coffee.png").status_code == 201

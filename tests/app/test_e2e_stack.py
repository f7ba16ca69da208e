"""End to end on the full stack: Postgres, Redis, a real Celery worker process, S3 (SeaweedFS).

upload -> condense (tiny preset, tiny teacher trained as stage 1) -> poll -> presigned download
-> the archive's pairs and manifest.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.app.e2e_helpers import E2E_IMAGES, TINY_JOB, check_archive, download, poll_job, zip_files
from tests.conftest_service import auth, new_api_key


@pytest.fixture(scope="module")
def stack_client(stack_app, celery_worker):
    with TestClient(stack_app) as client:
        yield client


@pytest.mark.slow
def test_upload_condense_poll_download(stack_client, stack_settings, photos_dir):
    headers = auth(new_api_key(stack_settings, "e2e-owner"))
    paths = [photos_dir / name for name in E2E_IMAGES]
    upload = stack_client.post(
        "/datasets", headers=headers, files={"archive": ("set5.zip", zip_files(paths))}
    )
    assert upload.status_code == 201, upload.text
    dataset = upload.json()

    submitted = stack_client.post(
        "/condense", headers=headers, json={**TINY_JOB, "dataset_id": dataset["id"]}
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    assert submitted.headers["location"].endswith(f"/jobs/{job_id}")

    job = poll_job(stack_client, headers, job_id, timeout=300)
    assert job["status"] == "succeeded", job
    assert job["progress"]["instances_done"] == job["progress"]["instances_total"] == 3
    assert job["progress"]["shards_done"] == job["progress"]["shards_total"] == 3
    assert job["teacher_id"] is not None
    assert {"training_teacher", "condensing", "assembling", "total"} <= set(job["timings"])
    stages = [state["stage"] for state in job["history"]]
    assert "condensing" in stages or "assembling" in stages or len(stages) == 1

    result = stack_client.get(f"/jobs/{job_id}/result", headers=headers)
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["url"].startswith(stack_settings.s3_endpoint_url)
    response = download(body["url"])
    assert response.status_code == 200
    manifest = check_archive(response.content, job_id, 4, [p.stem for p in paths])
    assert manifest == body["manifest"]
    assert manifest["teacher"]["id"] == job["teacher_id"]
    preview = download(body["preview_url"])
    assert preview.status_code == 200 and preview.content[:8] == b"\x89PNG\r\n\x1a\n"

    # The presigned URL is refused once altered (S3 checks the SigV4 signature).
    signature_at = body["url"].index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if body["url"][signature_at] != "0" else "1"
    tampered = body["url"][:signature_at] + flipped + body["url"][signature_at + 1 :]
    assert download(tampered).status_code == 403
    other_key = body["url"].replace(f"idc-{job_id}.zip", "preview.png")
    assert download(other_key).status_code == 403

    # The trained teacher is listed among the owner's teachers and can be reused.
    teachers = stack_client.get("/teachers", headers=headers).json()
    assert [t["id"] for t in teachers["items"]] == [job["teacher_id"]]
    assert teachers["items"][0]["source"] == "trained"


@pytest.mark.slow
def test_cancel_stops_a_running_job_within_seconds(stack_client, stack_settings, photos_dir):
    headers = auth(new_api_key(stack_settings, "e2e-cancel"))
    paths = [photos_dir / "astronaut.png"]
    upload = stack_client.post(
        "/datasets", headers=headers, files={"archive": ("astronaut.zip", zip_files(paths))}
    )
    dataset_id = upload.json()["id"]
    long_job = {
        **TINY_JOB,
        "dataset_id": dataset_id,
        "iterations": 100000,
        "teacher": {**TINY_JOB["teacher"], "iterations": 5},
    }
    job_id = stack_client.post("/condense", headers=headers, json=long_job).json()["id"]
    poll_job(
        stack_client,
        headers,
        job_id,
        timeout=180,
        until=lambda job: job["stage"] == "condensing" and job["progress"]["fraction"] > 0,
    )
    asked = time.monotonic()
    response = stack_client.post(f"/jobs/{job_id}/cancel", headers=headers)
    assert response.status_code == 202 and response.json()["cancel_requested"] is True
    job = poll_job(stack_client, headers, job_id, timeout=30)
    assert job["status"] == "cancelled"
    assert time.monotonic() - asked < 15
    assert stack_client.get(f"/jobs/{job_id}/result", headers=headers).status_code == 409
    again = stack_client.post(f"/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409

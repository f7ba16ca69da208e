"""A job outlives a 30-second S3 outage: the S3 server (its own `weed mini`) is SIGKILLed while
a shard condenses and started again 30 s later; the worker's storage calls wait it out (retried
with back-off for IDC_STORAGE_RETRY_S, 60 s by default) and the job succeeds, whole."""

from __future__ import annotations

import secrets
import time

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.app.e2e_helpers import TINY_JOB, check_archive, download, poll_job, zip_files
from tests.conftest_service import WeedServer, auth, new_api_key

OUTAGE_S = 30


@pytest.fixture
def weed(tmp_path):
    folder = tmp_path / "seaweedfs"
    folder.mkdir()
    server = WeedServer(folder)
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_job_survives_a_30_second_storage_outage(
    stack_settings: Settings, weed: WeedServer, photos_dir, spawn_worker
):
    settings = stack_settings.model_copy(
        update={
            "queue": f"idc-s3-outage-{secrets.token_hex(4)}",
            "s3_endpoint_url": weed.server.endpoint,
            "storage_retry_s": 60.0,  # the default, stated: the outage must fit inside it
            "shard_size": 1,
        }
    )
    from app.main import create_app

    paths = [photos_dir / name for name in ("chelsea.png", "coffee.png", "rocket.png")]
    worker = spawn_worker(settings, "outage")
    with TestClient(create_app(settings)) as client:
        headers = auth(new_api_key(settings, "outage"))
        upload = client.post(
            "/datasets", headers=headers, files={"archive": ("d.zip", zip_files(paths))}
        )
        assert upload.status_code == 201, upload.text
        worker.wait_ready()
        job_spec = {**TINY_JOB, "iterations": 300, "dataset_id": upload.json()["id"]}
        submitted = client.post("/condense", headers=headers, json=job_spec)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]

        def condensing(job) -> bool:
            return job["stage"] == "condensing" and job["progress"]["fraction"] > 0.05

        job = poll_job(client, headers, job_id, timeout=180, until=condensing)
        assert job["status"] == "running", job
        weed.kill()
        down_at = time.monotonic()
        # While S3 is down the job keeps running: nothing fails it.
        while time.monotonic() - down_at < OUTAGE_S:
            state = client.get(f"/jobs/{job_id}", headers=headers).json()
            assert state["status"] == "running", (state, worker.log()[-3000:])
            time.sleep(1)
        weed.start()
        job = poll_job(client, headers, job_id, timeout=240)
        assert job["status"] == "succeeded", (job, worker.log()[-4000:])
        result = client.get(f"/jobs/{job_id}/result", headers=headers).json()
        check_archive(download(result["url"]).content, job_id, 4, [p.stem for p in paths])
    # The outage was felt: the worker's storage calls waited for the server.
    assert "retrying in" in worker.log()

"""POST /condense, GET /jobs and cancellation on the real database and broker, with a queue no
worker reads (so jobs stay queued)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.models import Job, JobStage, JobStatus, Shard
from app.security import revoke_api_key
from tests.app.e2e_helpers import TINY_JOB, zip_files
from tests.conftest_service import auth, new_api_key


@pytest.fixture(scope="module")
def owner(api_settings):
    return auth(new_api_key(api_settings, "frank"))


@pytest.fixture(scope="module")
def dataset_id(api_client, owner, photos_dir) -> str:
    paths = [photos_dir / "chelsea.png", photos_dir / "coffee.png"]
    response = api_client.post(
        "/datasets", headers=owner, files={"archive": ("d.zip", zip_files(paths))}
    )
    assert response.status_code == 201
    return response.json()["id"]


def _submit(client: TestClient, headers, dataset_id: str, key: str | None = None, **changes):
    extra = {"Idempotency-Key": key} if key else {}
    body = {**TINY_JOB, "dataset_id": dataset_id, **changes}
    return client.post("/condense", headers=headers | extra, json=body)


def test_a_submitted_job_is_queued_with_its_url(api_client, owner, dataset_id):
    response = _submit(api_client, owner, dataset_id)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert (
        accepted["url"]
        == response.headers["location"]
        == f"http://testserver/jobs/{accepted['id']}"
    )
    job = api_client.get(f"/jobs/{accepted['id']}", headers=owner).json()
    assert job["status"] == job["stage"] == "queued"
    assert job["progress"]["instances_total"] == 2 and job["progress"]["instances_done"] == 0
    assert job["params"]["patch"] == {"patch_size": 64, "step": 64}  # the request as sent
    assert job["spec"]["job"]["patch"] == {"patch_size": 64, "step": 64, "scale": 4}
    teacher = job["spec"]["teacher"]["training"]  # resolved: the step and the recipe's values
    assert teacher["patch"] == {"patch_size": 48, "step": 24, "scale": 4}
    assert teacher["recipe"]["iterations"] == 10 and teacher["recipe"]["lr"] == 1.5e-3
    assert job["eta_seconds"] is None
    assert api_client.get(f"/jobs/{accepted['id']}/result", headers=owner).status_code == 409


def test_idempotency_key_replays_the_same_job(
    api_client, owner, dataset_id, api_settings, photos_dir
):
    first = _submit(api_client, owner, dataset_id, key="order-42")
    again = _submit(api_client, owner, dataset_id, key="order-42")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    changed = _submit(api_client, owner, dataset_id, key="order-42", seed=7)
    assert changed.status_code == 422
    assert "different request body" in changed.json()["detail"]
    # Keys are scoped by owner: another owner's "order-42" is a job of its own.
    colleague = auth(new_api_key(api_settings, "frank-colleague"))
    archive = zip_files([photos_dir / "chelsea.png"])
    upload = api_client.post("/datasets", headers=colleague, files={"archive": ("d.zip", archive)})
    theirs = _submit(api_client, colleague, upload.json()["id"], key="order-42")
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    fresh = _submit(api_client, owner, dataset_id, key="order-43")
    assert fresh.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"preset": "huge"}, 422, "unknown preset"),
        ({"patch": {"patch_size": 66, "step": 64}}, 422, "multiples of scale"),
        ({"teacher": None}, 422, "needs a teacher"),
        ({"method": "magic"}, 422, "method"),
        ({"ratio": 0}, 422, "ratio"),
        ({"settings": {"no_such_field": 1}}, 422, "no_such_field"),
        ({"patch": {"patch_size": 512, "step": 256}}, 422, "512px"),
        ({"teacher": {"mode": "train", "recipe": "nope"}}, 422, "unknown training recipe"),
        ({"teacher": {"mode": "train", "patch_size": 50}}, 422, "multiples of scale"),
        ({"iterations": 10**7}, 422, "at most"),
        ({"settings": {"scale": 4}}, 422, "scale"),
        ({"dataset_id": "00000000-0000-0000-0000-000000000000"}, 404, "not found"),
        ({"teacher": {"mode": "checkpoint", "teacher_id": "nope"}}, 404, "teacher nope not found"),
    ],
)
def test_invalid_requests_are_refused_with_a_message(
    api_client, owner, dataset_id, changes, status, message
):
    changes = dict(changes)
    response = _submit(api_client, owner, changes.pop("dataset_id", dataset_id), **changes)
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])


def test_random_selection_needs_no_teacher(api_client, owner, dataset_id):
    response = _submit(api_client, owner, dataset_id, method="random", teacher=None)
    assert response.status_code == 202, response.text


def test_listing_filters_and_pages(api_client, api_settings, dataset_id, photos_dir):
    headers = auth(new_api_key(api_settings, "gina"))
    upload = api_client.post(
        "/datasets",
        headers=headers,
        files={"archive": ("d.zip", zip_files([photos_dir / "chelsea.png"]))},
    )
    own_dataset = upload.json()["id"]
    ids = [_submit(api_client, headers, own_dataset).json()["id"] for _ in range(4)]
    ids.append(
        _submit(api_client, headers, own_dataset, method="random", teacher=None).json()["id"]
    )
    cancelled = api_client.post(f"/jobs/{ids[0]}/cancel", headers=headers)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"

    pages = [
        api_client.get("/jobs", headers=headers, params={"limit": 2, "offset": o}).json()
        for o in (0, 2, 4)
    ]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    listed = [item["id"] for page in pages for item in page["items"]]
    assert listed == list(reversed(ids))  # newest first, each exactly once

    by_status = api_client.get("/jobs", headers=headers, params={"status": "cancelled"}).json()
    assert [j["id"] for j in by_status["items"]] == [ids[0]]
    by_method = api_client.get("/jobs", headers=headers, params={"method": "random"}).json()
    assert [j["id"] for j in by_method["items"]] == [ids[4]]
    by_dataset = api_client.get("/jobs", headers=headers, params={"dataset_id": own_dataset}).json()
    assert by_dataset["total"] == 5
    assert api_client.get("/jobs", headers=headers, params={"limit": 101}).status_code == 422
    assert api_client.get("/jobs", headers=headers, params={"status": "lost"}).status_code == 422


def test_cancelling_a_queued_job_is_immediate_and_final(api_client, owner, dataset_id):
    job_id = _submit(api_client, owner, dataset_id).json()["id"]
    response = api_client.post(f"/jobs/{job_id}/cancel", headers=owner)
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled" and response.json()["cancel_requested"]
    assert response.json()["finished_at"] is not None
    again = api_client.post(f"/jobs/{job_id}/cancel", headers=owner)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_a_dataset_is_deleted_with_its_jobs_only_when_asked(api_client, api_settings, photos_dir):
    headers = auth(new_api_key(api_settings, "hugo"))
    upload = api_client.post(
        "/datasets",
        headers=headers,
        files={"archive": ("d.zip", zip_files([photos_dir / "chelsea.png"]))},
    )
    dataset_id = upload.json()["id"]
    job_id = _submit(api_client, headers, dataset_id).json()["id"]
    for params in ({}, {"cascade": "true"}):  # an unfinished job: refused even with cascade
        refused = api_client.delete(f"/datasets/{dataset_id}", headers=headers, params=params)
        assert refused.status_code == 409 and "cancel them first" in refused.json()["detail"]
    api_client.post(f"/jobs/{job_id}/cancel", headers=headers)
    refused = api_client.delete(f"/datasets/{dataset_id}", headers=headers)
    assert refused.status_code == 409
    assert "1 job(s) were made from this dataset" in refused.json()["detail"]
    assert "cascade=true" in refused.json()["detail"]
    assert api_client.get(f"/jobs/{job_id}", headers=headers).status_code == 200
    deleted = api_client.delete(
        f"/datasets/{dataset_id}", headers=headers, params={"cascade": "true"}
    )
    assert deleted.status_code == 204
    assert api_client.get(f"/datasets/{dataset_id}", headers=headers).status_code == 404
    assert api_client.app.state.storage.list_keys(f"datasets/{dataset_id}/") == []
    assert api_client.get(f"/jobs/{job_id}", headers=headers).status_code == 404


def test_an_unreachable_broker_answers_503_and_fails_the_job(api_settings, photos_dir):
    from app.main import create_app

    settings = api_settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(settings)) as client:
        headers = auth(new_api_key(settings, "ivan"))
        upload = client.post(
            "/datasets",
            headers=headers,
            files={"archive": ("d.zip", zip_files([photos_dir / "chelsea.png"]))},
        )
        response = _submit(client, headers, upload.json()["id"])
        assert response.status_code == 503
        assert "queue is unreachable" in response.json()["detail"]
        jobs = client.get("/jobs", headers=headers).json()["items"]
        assert [(j["status"], j["error"]) for j in jobs] == [("failed", "could not be queued")]


def test_polling_checks_the_key_in_its_one_query(api_client, api_settings, owner, dataset_id):
    """GET /jobs/{id} reads the key with the job (its own query): every key rule holds there."""
    job_id = _submit(api_client, owner, dataset_id).json()["id"]
    path = f"/jobs/{job_id}"
    key = new_api_key(api_settings, "gina")
    forged = key[:-2] + ("aa" if not key.endswith("aa") else "bb")
    for headers in ({}, {"Authorization": "Basic abc"}, auth("idc_nothere_xyz"), auth(forged)):
        assert api_client.get(path, headers=headers).status_code == 401, headers
    assert api_client.get("/jobs/" + "x" * 40).status_code == 401  # the key before the id
    assert api_client.get(path, headers=auth(key)).status_code == 404  # gina's key, frank's job
    assert api_client.get("/jobs/" + "x" * 40, headers=auth(key)).status_code == 404
    second = new_api_key(api_settings, "frank")  # another key of the job's owner
    assert api_client.get(path, headers=auth(second)).status_code == 200
    with api_client.app.state.sessionmaker() as session:
        assert revoke_api_key(session, second.split("_")[1])
        session.commit()
    assert api_client.get(path, headers=auth(second)).status_code == 401


def test_polling_sums_the_shards(api_client, owner, dataset_id):
    job_id = _submit(api_client, owner, dataset_id).json()["id"]
    with api_client.app.state.sessionmaker() as session:
        job = session.get(Job, job_id)
        job.status, job.stage, job.instances_total = JobStatus.running, JobStage.condensing, 10
        for index, (done, partial) in enumerate([(2, 2.5), (1, 1.5)]):
            session.add(
                Shard(
                    job_id=job_id,
                    index=index,
                    images=["a"],
                    instances_total=5,
                    instances_done=done,
                    progress=partial,
                )
            )
        session.commit()
    progress = api_client.get(f"/jobs/{job_id}", headers=owner).json()["progress"]
    assert progress["instances_done"] == 3
    assert progress["fraction"] == 0.4  # partial instances 4.0 of 10

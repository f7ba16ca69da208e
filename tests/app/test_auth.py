"""API keys: required, hashed, revocable; each owner sees only its own datasets, jobs, teachers."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from app.models import ApiKey
from app.security import revoke_api_key
from tests.app.e2e_helpers import TINY_JOB, zip_files
from tests.conftest_service import auth, new_api_key


def test_requests_without_a_valid_key_answer_401(api_client, api_settings):
    assert api_client.get("/datasets").status_code == 401
    assert api_client.get("/jobs", headers={"Authorization": "Basic abc"}).status_code == 401
    assert api_client.get("/jobs", headers=auth("idc_nothere_xyz")).status_code == 401
    key = new_api_key(api_settings, "dora")
    forged = key[:-2] + ("aa" if not key.endswith("aa") else "bb")
    assert api_client.get("/jobs", headers=auth(forged)).status_code == 401
    assert api_client.get("/jobs", headers=auth(key)).status_code == 200


def test_keys_are_stored_hashed_and_can_be_revoked(api_client, api_settings):
    key = new_api_key(api_settings, "erin")
    prefix = key.split("_")[1]
    with api_client.app.state.sessionmaker() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (row.key_hash, row.prefix, row.name)
        assert revoke_api_key(session, prefix)
        session.commit()
    assert api_client.get("/jobs", headers=auth(key)).status_code == 401


def test_other_owners_get_404_for_everything(api_client, owner_key, other_key, photos_dir):
    mine = auth(owner_key)
    archive = zip_files([photos_dir / "chelsea.png"])
    dataset = api_client.post("/datasets", headers=mine, files={"archive": ("a.zip", archive)})
    dataset_id = dataset.json()["id"]
    job = api_client.post("/condense", headers=mine, json={**TINY_JOB, "dataset_id": dataset_id})
    job_id = job.json()["id"]

    theirs = auth(other_key)
    for method, path in [
        ("get", f"/datasets/{dataset_id}"),
        ("delete", f"/datasets/{dataset_id}"),
        ("get", f"/jobs/{job_id}"),
        ("post", f"/jobs/{job_id}/cancel"),
        ("get", f"/jobs/{job_id}/result"),
        ("get", "/teachers/" + dataset_id),
    ]:
        response = getattr(api_client, method)(path, headers=theirs)
        assert response.status_code == 404, (method, path, response.text)
        assert "not found" in response.json()["detail"]
    stolen = api_client.post(
        "/condense", headers=theirs, json={**TINY_JOB, "dataset_id": dataset_id}
    )
    assert stolen.status_code == 404
    assert dataset_id not in [
        d["id"] for d in api_client.get("/datasets", headers=theirs).json()["items"]
    ]
    assert job_id not in [j["id"] for j in api_client.get("/jobs", headers=theirs).json()["items"]]
    assert api_client.get(f"/jobs/{job_id}", headers=mine).status_code == 200


def test_the_openapi_document_lists_401_and_404_where_they_can_happen(api_client):
    """Every route that needs a key documents 401; each of those naming a row in its path, 404."""
    paths = api_client.get("/openapi.json").json()["paths"]
    keyed = 0
    for path, item in paths.items():
        for method, operation in item.items():
            if not operation.get("security"):
                continue
            keyed += 1
            assert "401" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
    assert keyed >= 12

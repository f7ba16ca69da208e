"""POST /teachers checks the checkpoint without torch, stores it, and scopes it to its owner."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save

from tests.app.e2e_helpers import TINY_JOB, zip_files
from tests.conftest_service import auth, new_api_key


@pytest.fixture(scope="module")
def weights() -> bytes:
    rng = np.random.default_rng(0)
    return save({"head.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32)})


def _upload(client, headers, data: bytes, filename="model.safetensors", config=None):
    files = {"checkpoint": (filename, data)}
    if config is not None:
        files["config"] = ("model.json", config)
    return client.post("/teachers", headers=headers, files=files, data={"name": "my teacher"})


def test_a_checkpoint_with_its_sidecar_is_stored(api_client, owner_key, other_key, weights):
    headers = auth(owner_key)
    config = json.dumps({"format": "idc-sr-model", "arch": "edsr-tiny", "scale": 4, "config": {}})
    response = _upload(api_client, headers, weights, config=config.encode())
    assert response.status_code == 201, response.text
    teacher = response.json()
    assert (teacher["arch"], teacher["scale"], teacher["source"]) == ("edsr-tiny", 4, "uploaded")
    assert teacher["size_bytes"] == len(weights) and teacher["digest"].startswith("sha256:")
    storage = api_client.app.state.storage
    assert storage.get_bytes(f"teachers/{teacher['id']}/model.safetensors") == weights
    assert json.loads(storage.get_bytes(f"teachers/{teacher['id']}/model.json"))["scale"] == 4

    assert api_client.get(f"/teachers/{teacher['id']}", headers=headers).status_code == 200
    assert api_client.get(f"/teachers/{teacher['id']}", headers=auth(other_key)).status_code == 404
    listed = api_client.get("/teachers", headers=auth(other_key)).json()["items"]
    assert teacher["id"] not in [t["id"] for t in listed]


@pytest.mark.parametrize(
    ("filename", "data", "config", "message"),
    [
        ("model.safetensors", b"\xff" * 64, None, "header size"),
        (
            "model.safetensors",
            b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!",
            None,
            "not JSON",
        ),
        ("model.onnx", b"whatever", None, "unsupported checkpoint type"),
        ("model.pth", b"plain text", None, "neither a torch zip"),
        ("model.safetensors", None, b"[1, 2]", "JSON object"),
        ("model.safetensors", None, b"{not json", "not JSON"),
        ("model.safetensors", None, b'{"scale": 5}', "scale must be 2, 3 or 4"),
    ],
)
def test_bad_checkpoints_are_refused(
    api_client, owner_key, weights, filename, data, config, message
):
    before = api_client.app.state.storage.list_keys("teachers/")
    response = _upload(api_client, auth(owner_key), data or weights, filename, config)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert api_client.app.state.storage.list_keys("teachers/") == before


def test_a_job_checks_the_teacher_scale_and_keeps_it_while_running(
    api_client, api_settings, weights, photos_dir
):
    headers = auth(new_api_key(api_settings, "jane"))
    x2 = _upload(api_client, headers, weights, config=b'{"arch": "edsr-tiny", "scale": 2}').json()
    upload = api_client.post(
        "/datasets",
        headers=headers,
        files={"archive": ("d.zip", zip_files([photos_dir / "chelsea.png"]))},
    )
    body = {
        **TINY_JOB,
        "dataset_id": upload.json()["id"],
        "teacher": {"mode": "checkpoint", "teacher_id": x2["id"]},
    }
    refused = api_client.post("/condense", headers=headers, json=body)
    assert refused.status_code == 422 and "x2 model" in refused.json()["detail"]

    accepted = api_client.post(
        "/condense",
        headers=headers,
        json={**body, "scale": 2, "patch": {"patch_size": 64, "step": 64}},
    )
    assert accepted.status_code == 202, accepted.text
    job = api_client.get(accepted.headers["location"], headers=headers).json()
    assert job["teacher_id"] == x2["id"]
    assert api_client.delete(f"/teachers/{x2['id']}", headers=headers).status_code == 409
    api_client.post(f"/jobs/{job['id']}/cancel", headers=headers)
    assert api_client.delete(f"/teachers/{x2['id']}", headers=headers).status_code == 204
    assert api_client.app.state.storage.list_keys(f"teachers/{x2['id']}/") == []


def test_a_torch_zip_checkpoint_is_accepted_without_a_sidecar(api_client, owner_key):
    # The format torch.save writes passes the magic-number check; the worker loads it later.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    response = _upload(api_client, auth(owner_key), buffer.getvalue(), "model.pth")
    assert response.status_code == 201, response.text
    assert response.json()["arch"] is None and response.json()["scale"] is None

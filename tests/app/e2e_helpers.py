"""The client side of the end-to-end tests: upload, condense, poll, download, check."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

# Small enough for seconds on two CPU cores: 64 px HR patches, 6 IDC steps, a 10-step teacher.
TINY_JOB = {
    "method": "idc",
    "ratio": 0.1,
    "scale": 4,
    "patch": {"patch_size": 64, "step": 64},
    "preset": "tiny",
    "teacher": {
        "mode": "train",
        "arch": "edsr-tiny",
        "iterations": 10,
        "batch_size": 4,
        "patch_size": 48,
    },
    "seed": 0,
}
E2E_IMAGES = ("chelsea.png", "coffee.png", "rocket.png")


def zip_files(paths: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in paths:
            archive.write(path, f"photos/{path.name}")
    return buffer.getvalue()


def poll_job(client, headers: dict[str, str], job_id: str, timeout: float, until=None) -> dict:
    """GET /jobs/{id} until it has finished (or `until(job)` holds); returns the last state."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = client.get(f"/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        seen.append(job)
        if (until and until(job)) or (
            not until and job["status"] in ("succeeded", "failed", "cancelled")
        ):
            job["history"] = seen
            return job
        time.sleep(0.3)
    pytest.fail(
        f"job {job_id} did not finish in {timeout:.0f}s; last state: {seen[-1] if seen else None}"
    )


def check_archive(data: bytes, job_id: str, scale: int, image_names: list[str]) -> dict[str, Any]:
    """The archive holds matching HR/LR pairs, meta_info and a manifest that agree; returns it."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    root = f"idc-{job_id}/"
    names = archive.namelist()
    assert names and all(name.startswith(root) for name in names)
    hr = sorted(n[len(root) + 3 :] for n in names if n.startswith(root + "HR/"))
    lr = sorted(n[len(root) + 3 :] for n in names if n.startswith(root + "LR/"))
    assert hr and hr == lr, "every HR patch needs the LR patch of the same name"
    assert not any("/instances/" in n for n in names)
    for name in hr:
        with (
            Image.open(io.BytesIO(archive.read(root + "HR/" + name))) as big,
            Image.open(io.BytesIO(archive.read(root + "LR/" + name))) as small,
        ):
            assert big.size == (small.size[0] * scale, small.size[1] * scale)
    meta = archive.read(root + "meta_info.txt").decode().splitlines()
    assert sorted(line.split(" ")[0] for line in meta) == hr
    manifest = json.loads(archive.read(root + "manifest.json"))
    assert manifest["pairs"] == len(hr)
    assert manifest["service"]["job_id"] == job_id
    assert sorted(i["name"] for i in manifest["instances"]) == sorted(image_names)
    for instance in manifest["instances"]:
        stems = [n for n in hr if n.startswith(instance["name"] + "_")]
        assert len(stems) == instance["n_synthetic"] >= 1
    return manifest


def download(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)

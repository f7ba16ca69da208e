"""The worker-loss scenario shared by the Redis and embedded hand-over tests: a 3-image IDC job in
shards of 2, a worker killed while shard 0's second instance runs, and what must hold once
another worker has finished it (each instance once in the result, the finished one not redone, nothing left behind)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.config import Settings
from app.models import Shard
from tests.app.e2e_helpers import TINY_JOB, check_archive, download, zip_files
from tests.conftest_service import wait_for

HANDOVER_PHOTOS = ("chelsea.png", "coffee.png", "rocket.png")
# About 2-3 s per instance on two cores: long enough to kill the worker inside the second one.
HANDOVER_JOB = {**TINY_JOB, "iterations": 400}
# The liveness settings as deployed: the hand-over tests show that the defaults hand a lost shard
# over in time (and Redis' visibility timeout of 6 h 15 min plays no part in it).
DEFAULTS = {
    name: Settings.model_fields[name].default
    for name in (
        "task_soft_time_limit_s",
        "task_time_limit_s",
        "broker_visibility_timeout_s",
        "worker_stale_s",
        "heartbeat_interval_s",
        "task_max_attempts",
    )
}


def submit(client, headers, paths: list[Path], job: dict) -> str:
    upload = client.post(
        "/datasets", headers=headers, files={"archive": ("d.zip", zip_files(paths))}
    )
    assert upload.status_code == 201, upload.text
    response = client.post(
        "/condense", headers=headers, json={**job, "dataset_id": upload.json()["id"]}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def second_instance_running(job: dict) -> bool:
    """Shard 0 (chelsea, coffee) has finished chelsea and is inside coffee."""
    if job["status"] != "running" or job["stage"] != "condensing":
        return False
    return 1.05 < job["progress"]["fraction"] * 3 < 2


def finished_record(storage, job_id: str) -> dict[str, float]:
    """The instances stored so far, by name, with the seconds their stored marker records (the
    manifest repeats it, so an instance redone after the kill would show another figure)."""
    prefix = f"jobs/{job_id}/output/instances/"
    return {
        key[len(prefix) : -len(".json")]: json.loads(storage.get_bytes(key))["seconds"]
        for key in storage.list_keys(prefix)
    }


def check_handed_over(
    client, headers, storage, sessions, job_id: str, stems: list[str], finished=None
) -> None:
    """The result holds every instance once with its own pairs (check_archive); the instances
    finished before the kill (`finished`, from finished_record) were not redone; shard 0 ran
    twice (the lost run and the hand-over), shard 1 once; the intermediates are cleaned up."""
    url = client.get(f"/jobs/{job_id}/result", headers=headers).json()["url"]
    # Local storage signs URLs of the API itself (the test client's http://testserver).
    archive = client.get(url) if url.startswith("http://testserver/") else download(url)
    manifest = check_archive(archive.content, job_id, 4, stems)
    records = {instance["name"]: instance["seconds"] for instance in manifest["instances"]}
    for name, seconds in (finished or {}).items():
        assert records[name] == seconds, f"{name} was condensed again after the hand-over"
    with sessions() as session:
        attempts = dict(
            session.execute(select(Shard.index, Shard.attempts).where(Shard.job_id == job_id)).all()
        )
    assert attempts == {0: 2, 1: 1}
    # The worker deletes the intermediate instance files just after marking the job succeeded.
    wait_for(
        lambda: storage.list_keys(f"jobs/{job_id}/output/") == [], 30, "the intermediates to go"
    )

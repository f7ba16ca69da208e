"""Embedded mode (SQLite database, local files, SQLite broker, which never re-delivers a task) with
the default liveness settings: a worker killed mid-shard is replaced, and its shard is handed
over, each instance still written once; `idc-service embedded` restarts the worker it runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.storage import make_storage
from tests.app.e2e_helpers import poll_job
from tests.app.handover_helpers import (
    DEFAULTS,
    HANDOVER_JOB,
    HANDOVER_PHOTOS,
    check_handed_over,
    finished_record,
    second_instance_running,
    submit,
)
from tests.conftest_service import (
    TEST_SECRET,
    auth,
    free_port_block,
    new_api_key,
    settings_env,
    subprocess_env,
    wait_for,
)

STARTED = re.compile(r"worker process started \(pid (\d+)\)")


def _embedded(local_settings: Settings) -> Settings:
    return local_settings.model_copy(
        update={"shard_size": 2, "device": "cpu", "progress_interval_s": 0.2, **DEFAULTS}
    )


@pytest.mark.slow
def test_a_shard_of_a_killed_worker_is_handed_over_on_the_sqlite_broker(
    local_settings, photos_dir, spawn_worker
):
    from app.main import create_app

    settings = _embedded(local_settings)
    paths = [photos_dir / name for name in HANDOVER_PHOTOS]
    first = spawn_worker(settings, "first")
    with TestClient(create_app(settings)) as client:
        headers = auth(new_api_key(settings, "embedded-handover"))
        first.wait_ready()
        job_id = submit(client, headers, paths, HANDOVER_JOB)
        poll_job(client, headers, job_id, timeout=180, until=second_instance_running)
        first.kill()
        finished = finished_record(client.app.state.storage, job_id)
        assert list(finished) == ["chelsea"]

        second = spawn_worker(settings, "second")
        second.wait_ready()
        # The SQLite broker never re-delivers; the sweep hands the shard over (speed: see
        # benchmarks/worker_kill.py; the bound allows for a loaded machine).
        job = poll_job(client, headers, job_id, timeout=420)
        assert job["status"] == "succeeded", (job, second.log()[-3000:])
        assert "re-sent idc.run_shard" in second.log()
        state = client.app.state
        stems = [p.stem for p in paths]
        check_handed_over(
            client, headers, state.storage, state.sessionmaker, job_id, stems, finished
        )


@pytest.mark.slow
def test_idc_service_embedded_restarts_its_worker_and_both_jobs_succeed(tmp_path, photos_dir):
    port = free_port_block(1)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "idc",
        api_port=port,
        secret_key=TEST_SECRET,
        shard_size=2,
        progress_interval_s=0.2,
        device="cpu",
    )
    env = subprocess_env(settings_env(settings) | {"OMP_NUM_THREADS": "1"})
    cli = [sys.executable, "-m", "app.cli"]
    assert subprocess.run([*cli, "migrate"], env=env, cwd=tmp_path, timeout=120).returncode == 0
    key = new_api_key(settings, "embedded-restart")
    log_path = tmp_path / "service.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    service = subprocess.Popen(
        [*cli, "embedded"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    headers = auth(key)

    def service_log() -> str:
        return log_path.read_text(errors="replace")

    def ready() -> dict | None:
        assert service.poll() is None, service_log()[-3000:]
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    try:
        body = wait_for(ready, 120, "the embedded service and its worker")
        assert isinstance(body, dict) and body["workers"] == 1, body
        assert isinstance(body["queue_depth"], int)
        worker_pid = int(STARTED.findall(service_log())[-1])
        paths = [photos_dir / name for name in HANDOVER_PHOTOS]
        with httpx.Client(base_url=url, timeout=30) as client:
            before = submit(client, headers, paths, HANDOVER_JOB)
            poll_job(client, headers, before, timeout=180, until=second_instance_running)
            os.killpg(worker_pid, signal.SIGKILL)  # the worker and its pool child, at once

            def restarted() -> bool:
                assert service.poll() is None, service_log()[-3000:]
                return len(STARTED.findall(service_log())) == 2

            wait_for(restarted, 60, "the worker to be restarted")
            assert "exited unexpectedly with code -9" in service_log()
            after = submit(client, headers, paths[:2], HANDOVER_JOB)
            for job_id in (before, after):
                job = poll_job(client, headers, job_id, timeout=420)
                assert job["status"] == "succeeded", (job, service_log()[-3000:])
            assert "re-sent idc.run_shard" in service_log()
            engine = make_engine(settings.sqlalchemy_url)
            try:
                storage, sessions = make_storage(settings), make_sessionmaker(engine)
                stems = [p.stem for p in paths]
                check_handed_over(client, headers, storage, sessions, before, stems)
            finally:
                engine.dispose()
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            pytest.fail("the embedded service did not stop on SIGTERM")
        finally:
            log.close()
    assert service.returncode == 0
    # Its worker went with it (the supervisor stops the worker's whole process group).
    worker_pids = [int(pid) for pid in STARTED.findall(service_log())]
    assert not [pid for pid in worker_pids if os.path.exists(f"/proc/{pid}")]

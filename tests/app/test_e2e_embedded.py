"""End to end in embedded mode, as the README's first command runs it: `idc-service embedded`
(SQLite, local files, SQLite broker, one worker subprocess) driven by scripts/demo_client.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from tests.app.e2e_helpers import check_archive
from tests.conftest_service import ROOT, free_port_block, subprocess_env, wait_for


@pytest.mark.slow
def test_embedded_mode_condenses_through_the_rest_api(tmp_path):
    port = free_port_block(1)
    env = subprocess_env(
        {
            "IDC_DATA_DIR": str(tmp_path / "idc"),
            "IDC_API_PORT": str(port),
            "IDC_SECRET_KEY": "embedded-test-secret-0123456789-abcdefgh",
            "IDC_PROGRESS_INTERVAL_S": "0.2",
            "OMP_NUM_THREADS": "1",
        }
    )
    cli = [sys.executable, "-m", "app.cli"]
    assert subprocess.run([*cli, "migrate"], env=env, cwd=tmp_path, timeout=120).returncode == 0
    created = subprocess.run(
        [*cli, "create-key", "--owner", "embedded"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    key = created.stdout.strip()
    log = open(tmp_path / "service.log", "wb")  # noqa: SIM115 - closed below
    service = subprocess.Popen(
        [*cli, "embedded"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert service.poll() is None, (tmp_path / "service.log").read_text()[-3000:]
            try:
                return httpx.get(f"{url}/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, 120, "the embedded service")
        demo = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "demo_client.py"),
                "--url",
                url,
                "--key",
                key,
                "--photos",
                "2",
                "--preset",
                "tiny",
                "--iterations",
                "6",
                "--teacher-iterations",
                "10",
                "--patch-size",
                "64",
                "--step",
                "64",
                "--out",
                str(tmp_path / "result"),
                "--timeout",
                "240",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert demo.returncode == 0, (
            demo.stdout + demo.stderr + (tmp_path / "service.log").read_text()[-3000:]
        )
        assert "result: " in demo.stdout and "HR/LR pairs" in demo.stdout

        headers = {"Authorization": f"Bearer {key}"}
        job = httpx.get(f"{url}/jobs", headers=headers).json()["items"][0]
        assert job["status"] == "succeeded"
        result = httpx.get(f"{url}/jobs/{job['id']}/result", headers=headers).json()
        assert result["url"].startswith(f"{url}/downloads/jobs/{job['id']}/")
        archive = httpx.get(result["url"])
        assert archive.status_code == 200
        check_archive(archive.content, job["id"], 4, ["astronaut", "coffee"])
        assert (tmp_path / "result" / f"idc-{job['id']}" / "meta_info.txt").is_file()
        tampered = result["url"].replace("signature=", "signature=0")
        assert httpx.get(tampered).status_code == 403
        # Everything lives under IDC_DATA_DIR: the database, the broker and the files.
        assert {"idc.db", "broker.db", "storage"} <= {p.name for p in (tmp_path / "idc").iterdir()}
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

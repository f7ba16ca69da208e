"""`IDC_API_WORKERS`: several uvicorn processes behind one port; `/metrics` counts the requests
of all of them, not only of the process that happens to answer the scrape."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.app.conftest import serving
from tests.conftest_service import auth, new_api_key, wait_for

REQUESTS = 60


def _worker_processes(parent: int) -> list[int]:
    """The uvicorn workers of `parent`: its children started by multiprocessing's spawn."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _jobs_answered(metrics: str) -> float:
    match = re.search(
        r'^idc_http_requests_total\{method="GET",route="/jobs",status="200"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(match.group(1)) if match else 0.0


def test_two_api_processes_serve_and_metrics_sum_them(api_settings, tmp_path):
    key = new_api_key(api_settings, "two-processes")
    with serving(api_settings.model_copy(update={"api_workers": 2}), tmp_path) as server:
        wait_for(lambda: len(_worker_processes(server.pid)) == 2, 60, "two API processes")
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them
            with httpx.Client(base_url=server.url, timeout=30) as client:
                assert client.get("/jobs", headers=auth(key)).status_code == 200
        scrapes = [httpx.get(f"{server.url}/metrics", timeout=30).text for _ in range(4)]
    assert [_jobs_answered(text) for text in scrapes] == [REQUESTS] * 4, server.log_path

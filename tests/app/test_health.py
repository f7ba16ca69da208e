"""/healthz, /readyz (database, broker, storage, live workers, queue depth) and /metrics."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.db import session_scope
from app.models import WorkerBeat
from app.queue import TASK_PREPARE


def test_readyz_is_unavailable_without_a_live_worker_and_counts_them_with_one(api_settings):
    from app.main import create_app

    # A queue of its own: no worker of another test reads it, and its depth is this test's.
    settings = api_settings.model_copy(update={"queue": f"idc-ready-{secrets.token_hex(4)}"})
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
        alone = client.get("/readyz")
        assert alone.status_code == 503
        assert alone.json() == {
            "status": "unavailable",
            "checks": {
                "database": "ok",
                "broker": "ok",
                "storage": "ok",
                "workers": f"error: no live worker reads queue {settings.queue!r}",
            },
            "workers": 0,
            "queue_depth": 0,
        }

        sessions = client.app.state.sessionmaker
        client.app.state.celery.send_task(TASK_PREPARE, args=["no-such-job"])
        with session_scope(sessions) as session:  # as two workers' heartbeats write them
            session.add_all(
                [
                    WorkerBeat(id=f"celery@test:{pid}", pid=pid, queue=settings.queue)
                    for pid in (1, 2)
                ]
            )
        try:
            ready = client.get("/readyz")
            metrics = client.get("/metrics").text
        finally:
            with session_scope(sessions) as session:
                session.execute(delete(WorkerBeat).where(WorkerBeat.queue == settings.queue))
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok", "workers": "ok"},
        "workers": 2,
        "queue_depth": 1,
    }
    assert "idc_workers_live 2.0" in metrics and "idc_queue_depth 1.0" in metrics


def test_readyz_names_each_dependency_that_is_down(api_settings):
    from app.main import create_app

    settings = api_settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "broker_url": "redis://127.0.0.1:1/0",
            "s3_endpoint_url": "http://127.0.0.1:1",
        }
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == {"database", "broker", "storage", "workers"}
    assert all(value.startswith("error:") for value in body["checks"].values()), body


def test_metrics_count_requests_and_jobs(api_client, owner_key):
    api_client.get("/healthz")
    api_client.get("/jobs", headers={"Authorization": f"Bearer {owner_key}"})
    text = api_client.get("/metrics").text
    assert 'idc_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/jobs"' in text and "idc_http_request_duration_seconds_bucket" in text
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        assert f'idc_jobs{{status="{status}"}}' in text

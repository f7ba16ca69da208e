"""/healthz, /readyz (database, broker, storage) and /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_and_readyz_on_the_running_stack(api_client):
    assert api_client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = api_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


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
    assert set(body["checks"]) == {"database", "broker", "storage"}
    assert all(value.startswith("error:") for value in body["checks"].values()), body


def test_metrics_count_requests_and_jobs(api_client, owner_key):
    api_client.get("/healthz")
    api_client.get("/jobs", headers={"Authorization": f"Bearer {owner_key}"})
    text = api_client.get("/metrics").text
    assert 'idc_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/jobs"' in text and "idc_http_request_duration_seconds_bucket" in text
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        assert f'idc_jobs{{status="{status}"}}' in text

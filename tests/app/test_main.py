"""The application factory: what its lifespan does once per process."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.main import create_app


def test_start_up_objects_are_frozen_out_of_the_collector(local_settings):
    gc.unfreeze()
    app = create_app(local_settings)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
    gc.unfreeze()

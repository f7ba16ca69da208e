"""Service fixtures (real Postgres, Redis, S3 server, Celery worker): see tests/conftest_service."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest_service import make_settings, new_api_key


@pytest.fixture(scope="session")
def api_settings(stack_settings: Settings) -> Settings:
    """The stack's settings with a queue no worker reads: jobs submitted here stay queued."""
    return stack_settings.model_copy(update={"queue": f"idc-idle-{secrets.token_hex(4)}"})


@pytest.fixture(scope="session")
def api_client(api_settings: Settings) -> Iterator[TestClient]:
    from app.main import create_app

    with TestClient(create_app(api_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def owner_key(api_settings: Settings) -> str:
    return new_api_key(api_settings, "alice")


@pytest.fixture(scope="session")
def other_key(api_settings: Settings) -> str:
    return new_api_key(api_settings, "bob")


@pytest.fixture
def local_settings(tmp_path) -> Settings:
    """Embedded-mode settings: SQLite, local files, SQLite broker, all under tmp_path."""
    settings = make_settings(data_dir=tmp_path / "idc", public_base_url="http://testserver")
    from app.migrate import upgrade

    settings.ensure_local_dirs()
    upgrade(settings.sqlalchemy_url)
    return settings

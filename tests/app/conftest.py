"""Service fixtures (real Postgres, Redis, S3 server, Celery worker): see tests/conftest_service."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest_service import (
    free_port_block,
    make_settings,
    new_api_key,
    settings_env,
    stop_process,
    subprocess_env,
    wait_for,
)


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


@dataclass(frozen=True)
class ApiServer:
    url: str
    log_path: Path
    pid: int


@contextmanager
def serving(settings: Settings, folder: Path) -> Iterator[ApiServer]:
    """`idc-service serve` (uvicorn) of `settings` in its own process until the block ends."""
    port = free_port_block(1)
    env = subprocess_env(settings_env(settings) | {"PYTHONUNBUFFERED": "1"})
    log_path = folder / "api.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--no-migrate", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the API exited:\n{log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, 60, "the API server")
        yield ApiServer(url, log_path, process.pid)
    finally:
        stop_process(process)
        log.close()


@pytest.fixture(scope="module")
def api_server(api_settings: Settings, tmp_path_factory) -> Iterator[ApiServer]:
    """The API as deployed: `idc-service serve` (uvicorn) in its own process, on the stack's
    Postgres and S3 server, with the idle queue of `api_settings`."""
    with serving(api_settings, tmp_path_factory.mktemp("api-server")) as server:
        yield server

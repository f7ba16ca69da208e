"""`idc-service` commands, run as the user runs them (subprocesses on an embedded-mode setup)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest_service import auth, settings_env, subprocess_env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=Path(env["IDC_DATA_DIR"]).parent,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_then_create_key_gives_a_working_key(tmp_path):
    from app.config import Settings
    from app.main import create_app

    env = {"IDC_DATA_DIR": str(tmp_path / "idc"), "IDC_SECRET_KEY": "s" * 40}
    migrated = _cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "idc" / "idc.db").is_file()
    created = _cli("create-key", "--owner", "kim", "--name", "laptop", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("idc_") and "shown only now" in created.stderr

    settings = Settings(_env_file=None, data_dir=tmp_path / "idc", secret_key="s" * 40)
    with TestClient(create_app(settings)) as client:
        assert client.get("/datasets", headers=auth(key)).status_code == 200
        revoked = _cli("revoke-key", key.split("_")[1], env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/datasets", headers=auth(key)).status_code == 401


def test_bad_input_exits_non_zero_with_a_message(tmp_path, stack_settings):
    env = {"IDC_DATA_DIR": str(tmp_path / "idc"), "IDC_SECRET_KEY": "s" * 40}
    assert _cli("migrate", env=env).returncode == 0
    empty_owner = _cli("create-key", "--owner", "  ", env=env)
    assert empty_owner.returncode == 2 and "owner must be" in empty_owner.stderr

    unknown = _cli("revoke-key", "nope", env=env)
    assert unknown.returncode == 1 and "no key 'nope'" in unknown.stderr

    production = _cli(
        "migrate", env={**env, "IDC_ENVIRONMENT": "production", "IDC_SECRET_KEY": "changethis"}
    )
    assert production.returncode == 2 and "IDC_SECRET_KEY" in production.stderr

    no_database = {
        **settings_env(stack_settings),
        "IDC_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x",
    }
    down = _cli("migrate", "--timeout", "1", env=no_database)
    assert down.returncode == 1 and "did not answer" in down.stderr

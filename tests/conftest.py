"""Shared fixtures: the real SR images in the read-only shared/ folder beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

# Real Postgres, Redis, S3 server and Celery worker fixtures, shared by tests/app and tests/worker.
pytest_plugins = ["tests.conftest_service"]

SHARED_SR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sr"


def _folder(name: str) -> Path:
    folder = SHARED_SR / name
    if not folder.is_dir():
        pytest.fail(f"test images missing: {folder} (the read-only shared/ folder beside the repo)")
    return folder


@pytest.fixture(scope="session")
def set5_dir() -> Path:
    return _folder("Set5")


@pytest.fixture(scope="session")
def set14_dir() -> Path:
    return _folder("Set14")


@pytest.fixture(scope="session")
def t91_dir() -> Path:
    return _folder("T91")


@pytest.fixture(scope="session")
def bsd200_dir() -> Path:
    return _folder("BSD200")

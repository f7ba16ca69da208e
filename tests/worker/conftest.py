"""Service fixtures (real Postgres, Redis, S3 server, Celery worker): see tests/conftest_service."""

from tests.conftest_service import *  # noqa: F403 - fixtures shared with tests/app

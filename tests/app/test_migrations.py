"""The Alembic migrations build exactly the models' schema on Postgres, and undo it."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql
from sqlalchemy import create_engine, inspect

from app.migrate import downgrade, upgrade
from app.models import Base
from tests.conftest_service import PG_ADMIN_URL


@pytest.fixture
def empty_database(postgres_url):  # postgres_url: fails clearly when Postgres is down
    name = f"idc_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_upgrade_matches_the_models_and_downgrade_removes_everything(empty_database):
    engine = create_engine(empty_database)
    try:
        upgrade(empty_database)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0001"
        tables = set(inspect(engine).get_table_names())
        assert tables == {"alembic_version", "api_keys", "datasets", "teachers", "jobs", "shards"}

        downgrade(empty_database, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(empty_database)  # and back up again
        assert "jobs" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

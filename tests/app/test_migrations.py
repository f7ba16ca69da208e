"""The Alembic migrations build exactly the models' schema on Postgres, and undo it."""

from __future__ import annotations

import json
import secrets

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql
from sqlalchemy import create_engine, inspect, text

from app.jobspec import JobSpec, TrainedTeacher
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
            assert context.get_current_revision() == "0004"
        tables = set(inspect(engine).get_table_names())
        assert tables == {
            "alembic_version",
            "api_keys",
            "datasets",
            "teachers",
            "jobs",
            "shards",
            "task_leases",
            "workers",
        }

        downgrade(empty_database, "0002")  # 0003 alone comes off, and back on
        assert not {"task_leases", "workers"} & set(inspect(engine).get_table_names())
        upgrade(empty_database)
        downgrade(empty_database, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(empty_database)  # and back up again
        assert "jobs" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# A job row as the API of revision 0001 stored it: the request, plus the library job and the
# resolved IDC settings and shard size (abridged: the workers of 0001 read no other field).
PARAMS_0001 = {
    "dataset_id": "d1",
    "method": "idc",
    "ratio": 0.1,
    "scale": 4,
    "patch": {"patch_size": 64, "step": 64},
    "preset": "tiny",
    "iterations": None,
    "settings": {},
    "teacher": {
        "mode": "train",
        "arch": "edsr-tiny",
        "iterations": 10,
        "batch_size": 4,
        "lr": 5e-4,
        "patch_size": 48,
        "step": None,
    },
    "seed": 2,
    "save_float_lr": False,
    "shard_size": 8,
    "condense_job": {
        "method": "idc",
        "ratio": 0.1,
        "patch": {"patch_size": 64, "step": 64, "scale": 4},
        "preset": "tiny",
        "overrides": {},
        "seed": 2,
        "save_float_lr": False,
    },
    "idc_settings": {"iterations": 6},
}


def test_jobs_of_revision_0001_get_the_spec_they_ran_with(empty_database):
    engine = create_engine(empty_database)
    try:
        upgrade(empty_database, "0001")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs (id, owner, method, params, request_digest, status, stage,"
                    " cancel_requested, instances_total, shards_total, shards_done,"
                    " stage_progress, timings, created_at, updated_at) VALUES ('j1', 'o', 'idc',"
                    " :params, 'd', 'succeeded', 'done', false, 2, 1, 1, 1.0, '{}', now(), now())"
                ),
                {"params": json.dumps(PARAMS_0001)},
            )
        upgrade(empty_database)
        with engine.connect() as connection:
            params, spec = connection.execute(text("SELECT params, spec FROM jobs")).one()
        assert "condense_job" not in params and "idc_settings" not in params
        parsed = JobSpec.model_validate(spec)
        assert parsed.job.preset == "tiny" and parsed.job.seed == 2 and parsed.shard_size == 8
        assert isinstance(parsed.teacher, TrainedTeacher)
        training = parsed.teacher.training  # as the worker of 0001 trained it
        assert training.patch.step == 24 and training.recipe.lr == 5e-4
        assert (training.recipe.iterations, training.recipe.batch_size) == (10, 4)

        downgrade(empty_database, "0001")
        with engine.connect() as connection:
            params = connection.execute(text("SELECT params FROM jobs")).scalar_one()
        assert params["condense_job"]["preset"] == "tiny" and params["shard_size"] == 8
    finally:
        engine.dispose()

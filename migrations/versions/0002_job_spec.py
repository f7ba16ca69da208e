"""jobs.spec: the typed job spec the workers run; params keeps only the request as sent.

Existing rows get the spec their stored params describe, written the way the workers of 0001
read them (condense_job, teacher, scale, seed, shard_size): the teacher's step defaulted to half a
patch rounded down to a multiple of the scale, and its recipe was the request's iterations,
batch size and lr with the remaining TrainRecipe defaults. That arithmetic is repeated here on
purpose: a migration must keep meaning what it meant when it was written.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("params", sa.JSON))
_jobs_with_spec = sa.table(
    "jobs", sa.column("id", sa.String), sa.column("params", sa.JSON), sa.column("spec", sa.JSON)
)


def _teacher_0001(params: dict[str, Any]) -> dict[str, Any] | None:
    teacher = params.get("teacher")
    if not teacher:
        return None
    if teacher.get("mode") == "checkpoint":
        return {"mode": "checkpoint", "teacher_id": teacher["teacher_id"]}
    scale, patch_size = params["scale"], teacher["patch_size"]
    step = teacher.get("step") or max(scale, patch_size // 2 // scale * scale)
    recipe = {key: teacher[key] for key in ("iterations", "batch_size", "lr")}
    return {
        "mode": "train",
        "training": {
            "arch": teacher["arch"],
            "patch": {"patch_size": patch_size, "step": step, "scale": scale},
            "recipe": {**recipe, "seed": params["seed"]},
        },
    }


def _spec_0001(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "dataset_id": params["dataset_id"],
        "job": params["condense_job"],
        "teacher": _teacher_0001(params),
        "shard_size": params["shard_size"],
    }


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for job_id, params in connection.execute(sa.select(_jobs.c.id, _jobs.c.params)).all():
        request = {k: v for k, v in params.items() if k not in ("condense_job", "idc_settings")}
        connection.execute(
            _jobs_with_spec.update()
            .where(_jobs_with_spec.c.id == job_id)
            .values(spec=_spec_0001(params), params=request)
        )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("spec", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    """Puts back what 0001's workers read from params (the library job and the shard size)."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_jobs_with_spec.c.id, _jobs_with_spec.c.params, _jobs_with_spec.c.spec)
    ).all()
    for job_id, params, spec in rows:
        restored = {**params, "condense_job": spec["job"], "shard_size": spec["shard_size"]}
        connection.execute(_jobs.update().where(_jobs.c.id == job_id).values(params=restored))
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("spec")

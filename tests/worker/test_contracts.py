"""The contract between API and workers: the spec the route stores is what the worker hands to
idc_core, every request option reaches it, and the queue's names and settings hold."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import make_engine, make_sessionmaker
from app.jobspec import JobSpec, TrainedTeacher
from app.models import Job
from app.queue import TASK_ASSEMBLE, TASK_PREPARE, TASK_SHARD, create_celery
from app.schemas import CondenseRequest
from idc_core import api as idc
from tests.app.e2e_helpers import zip_files
from tests.conftest_service import auth, make_settings, new_api_key
from worker.runtime import gpu_for_child

REQUEST = {
    "method": "kcenter",
    "ratio": 0.2,
    "scale": 2,
    "patch": {"patch_size": 32, "step": 16},
    "preset": "tiny",
    "iterations": 9,
    "settings": {"w_pair": 0.5},
    "teacher": {"mode": "train", "iterations": 7, "patch_size": 40},
    "seed": 3,
    "save_float_lr": True,
    "teacher_hr": True,
    "shard_size": 5,
}


def test_builtin_architectures_are_the_model_registry():
    from idc_core.models import ARCH_PRESETS

    assert set(idc.BUILTIN_ARCHS) == set(ARCH_PRESETS)


def test_the_spec_the_route_stores_is_what_the_worker_runs(tmp_path, set5_dir):
    """Through the real route and database: the stored spec, parsed as the worker parses it."""
    from app.main import create_app
    from app.migrate import upgrade

    settings = make_settings(data_dir=tmp_path / "idc", public_base_url="http://testserver")
    settings.ensure_local_dirs()
    upgrade(settings.sqlalchemy_url)
    headers = auth(new_api_key(settings, "contract"))
    with TestClient(create_app(settings)) as client:
        archive = zip_files([set5_dir / "baby.png", set5_dir / "bird.png"])
        dataset = client.post("/datasets", headers=headers, files={"archive": ("d.zip", archive)})
        body = {**REQUEST, "dataset_id": dataset.json()["id"]}
        response = client.post("/condense", headers=headers, json=body)
        assert response.status_code == 202, response.text
    engine = make_engine(settings.sqlalchemy_url)
    with make_sessionmaker(engine)() as session:
        job = session.scalar(select(Job).where(Job.id == response.json()["id"]))
        stored_spec, stored_params = job.spec, job.params
    engine.dispose()

    spec = JobSpec.model_validate(stored_spec)  # what each worker task does, once
    assert stored_params == CondenseRequest.model_validate(body).model_dump(mode="json")
    assert spec.job.on_device("cpu") == idc.CondenseJob(
        method="kcenter",
        ratio=0.2,
        patch=idc.PatchSettings(patch_size=32, step=16, scale=2),
        preset="tiny",
        overrides={"w_pair": 0.5, "iterations": 9},
        seed=3,
        device="cpu",
        save_float_lr=True,
        teacher_hr=True,
    )
    assert spec.job.idc_settings().iterations == 9 and spec.job.needs_teacher
    assert isinstance(spec.teacher, TrainedTeacher)
    assert spec.teacher.training == idc.TeacherTraining(
        arch="edsr-tiny",
        patch=idc.PatchSettings(patch_size=40, step=20, scale=2),
        recipe=idc.get_recipe("teacher-cpu", iterations=7, seed=3),
    )
    assert spec.shard_size == 5 and spec.images_per_shard(2) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", "herding"),
        ("ratio", 0.3),
        ("scale", 4),
        ("patch", {"patch_size": 48, "step": 24}),
        ("preset", "cpu"),
        ("iterations", 4),
        ("settings", {"w_pair": 0.25}),
        ("teacher", {"mode": "train", "iterations": 8, "patch_size": 40}),
        ("teacher", {"mode": "train", "iterations": 7, "patch_size": 40, "arch": "edsr-baseline"}),
        ("teacher", {"mode": "train", "iterations": 7, "patch_size": 40, "recipe": "tiny"}),
        ("teacher", {"mode": "train", "iterations": 7, "patch_size": 40, "step": 4}),
        ("teacher", {"mode": "train", "iterations": 7, "patch_size": 40, "lr": 0.01}),
        ("teacher", {"mode": "train", "iterations": 7, "patch_size": 40, "batch_size": 2}),
        ("teacher", {"mode": "checkpoint", "teacher_id": "t"}),
        ("seed", 4),
        ("save_float_lr", False),
        ("teacher_hr", False),
        ("shard_size", 6),
    ],
)
def test_every_request_option_reaches_the_spec(field, value):
    """A new request field that the spec forgets fails here (and in the next test)."""
    base = CondenseRequest.model_validate({**REQUEST, "dataset_id": "d"})
    changed = CondenseRequest.model_validate({**REQUEST, "dataset_id": "d", field: value})
    assert changed.job_spec(8) != base.job_spec(8)


def test_the_request_fields_are_all_covered_above():
    covered = {"dataset_id", *REQUEST}
    assert set(CondenseRequest.model_fields) == covered


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ratio": 1.5}, "ratio"),
        ({"method": "random", "teacher": None, "teacher_hr": True}, "needs a teacher"),
        ({"iterations": 2_000_000}, "at most"),
        ({"teacher": {"mode": "train", "recipe": "nope"}}, "unknown training recipe"),
        ({"settings": {"scale": 4}}, "scale"),  # the NCFD constant is ncfd_scale, not the SR factor
    ],
)
def test_a_wrong_value_is_refused_by_the_one_validation(changes, message):
    request = CondenseRequest.model_validate({**REQUEST, "dataset_id": "d", **changes})
    with pytest.raises(ValueError, match=message):
        request.job_spec(8)


def test_the_tasks_are_registered_under_the_names_the_api_sends():
    from worker.celery_app import celery_app
    from worker.tasks import assemble_job  # noqa: F401 - registers the tasks

    assert {TASK_PREPARE, TASK_SHARD, TASK_ASSEMBLE} <= set(celery_app.tasks)


def test_long_task_settings(redis_url):
    conf = create_celery(make_settings(broker_url=redis_url, queue="q")).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    options = conf.broker_transport_options
    assert options["visibility_timeout"] > conf.task_time_limit
    assert options["unacked_restore_interval"] <= options["visibility_timeout"] // 10
    assert conf.task_default_queue == "q" and conf.task_ignore_result
    # The SQLite broker of embedded mode takes no Redis options (it would pass them to SQLAlchemy).
    assert create_celery(make_settings()).conf.broker_transport_options == {}
    with pytest.raises(ValueError, match="VISIBILITY_TIMEOUT"):
        make_settings(
            task_soft_time_limit_s=90, task_time_limit_s=100, broker_visibility_timeout_s=50
        )


def test_gpus_are_dealt_to_prefork_children_round_robin():
    assert [gpu_for_child("0,1", i) for i in range(4)] == ["0", "1", "0", "1"]
    assert gpu_for_child("", 0) is None and gpu_for_child(" 3 ", 5) == "3"

"""What the API repeats from torch-side idc_core (it cannot import it) must match idc_core."""

from __future__ import annotations

import pytest

from app.schemas import TEACHER_ARCHS, CondenseRequest
from idc_core import api as idc
from tests.conftest_service import make_settings
from worker import compute
from worker.celery_app import TASK_ASSEMBLE, TASK_PREPARE, TASK_SHARD, celery_app, create_celery
from worker.runtime import gpu_for_child


def test_teacher_architectures_match_the_model_registry():
    from idc_core.models import ARCH_PRESETS

    assert set(TEACHER_ARCHS) == set(ARCH_PRESETS)


def test_a_request_becomes_the_job_idc_core_runs():
    request = CondenseRequest(
        dataset_id="d",
        method="kcenter",
        ratio=0.2,
        scale=2,
        patch={"patch_size": 32, "step": 16},
        preset="tiny",
        iterations=9,
        teacher={"mode": "train"},
        seed=3,
    )
    params = {"condense_job": request.condense_job().model_dump(mode="json", exclude={"device"})}
    job = compute.condense_job(params, "cpu")
    assert isinstance(job, idc.CondenseJob)
    assert (job.method, job.ratio, job.patch.scale, job.patch.patch_size, job.seed) == (
        "kcenter",
        0.2,
        2,
        32,
        3,
    )
    assert job.idc_settings().iterations == 9 and job.device == "cpu"


def test_the_tasks_are_registered_under_the_names_the_api_sends():
    import worker.tasks  # noqa: F401 - registers the tasks

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

"""Prefork children get one GPU each through CUDA_VISIBLE_DEVICES, set in the child."""

from __future__ import annotations

import secrets

from tests.conftest_service import wait_for


def test_each_prefork_child_gets_its_own_gpu(stack_settings, spawn_worker):
    settings = stack_settings.model_copy(
        update={"worker_gpus": "7,9", "queue": f"idc-gpu-{secrets.token_hex(4)}"}
    )
    worker = spawn_worker(settings, concurrency=2)
    worker.wait_ready()
    wait_for(lambda: "child 1 uses GPU" in worker.log(), 30, "both children to start")
    log = worker.log()
    assert "worker child 0 uses GPU 7" in log and "worker child 1 uses GPU 9" in log

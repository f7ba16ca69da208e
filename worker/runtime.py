"""Per-process resources of a worker: settings, database sessions and storage.

They are created on first use in the process that uses them, never inherited through fork
(a database connection shared by two processes corrupts both). `worker_process_init` gives
each prefork child its GPU through CUDA_VISIBLE_DEVICES before anything touches CUDA.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from celery.signals import worker_process_init
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.storage import Storage, make_storage

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage


_runtime: Runtime | None = None
_runtime_pid: int | None = None


def runtime() -> Runtime:
    """This process's resources, made on first use (and again after a fork)."""
    global _runtime, _runtime_pid
    if _runtime is None or _runtime_pid != os.getpid():
        settings = get_settings()
        settings.ensure_local_dirs()
        engine = make_engine(settings.sqlalchemy_url)
        _runtime = Runtime(settings, engine, make_sessionmaker(engine), make_storage(settings))
        _runtime_pid = os.getpid()
    return _runtime


def gpu_for_child(gpus: str, child_index: int) -> str | None:
    """The GPU id for prefork child `child_index` (0-based), round robin; None without GPUs."""
    ids = [g.strip() for g in gpus.split(",") if g.strip()]
    return ids[child_index % len(ids)] if ids else None


@worker_process_init.connect
def _assign_gpu(**_kwargs) -> None:
    from billiard.process import current_process

    index = getattr(current_process(), "index", 0) or 0
    gpu = gpu_for_child(get_settings().worker_gpus, index)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        log.info("worker child %d uses GPU %s", index, gpu)

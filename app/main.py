"""The FastAPI application factory: `uvicorn --factory app.main:create_app`."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.api.deps import reject_unknown_query
from app.api.early_auth import KeyBeforeBody
from app.api.errors import validation_failed
from app.api.openapi import install_openapi
from app.api.routes import datasets, downloads, health, jobs, teachers
from app.config import Settings, get_settings
from app.db import (
    DatabaseBusy,
    SessionGate,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
)
from app.limits import BodySizeLimit
from app.metrics import JobStatusCollector, LivenessCollector, MetricsMiddleware
from app.queue import create_celery
from app.storage import StorageError, make_storage
from app.uploads import Budget

log = logging.getLogger(__name__)

# Connections beyond the request slots, for what opens its own: /readyz and /metrics.
_PROBE_CONNECTIONS = 3
# Seconds a client is told to wait before retrying a 503.
RETRY_AFTER_S = 2

DESCRIPTION = """
Condenses a dataset of HR images into a small set of HR/LR training pairs for super-resolution
(Instance Data Condensation, or a selection baseline). Upload an archive with `POST /datasets`,
start a job with `POST /condense`, poll `GET /jobs/{id}`, and download the result through the
signed URL of `GET /jobs/{id}/result`. Every call but the probes needs `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_local_dirs()
    engine = make_engine(
        settings.sqlalchemy_url, pool_size=settings.db_pool_size, max_overflow=_PROBE_CONNECTIONS
    )
    session_gate = SessionGate(settings.db_pool_size, settings.db_wait_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        session_gate.reset()
        # What start-up made (modules, mappers, schemas: most of the heap) lives as long as the
        # process: out of the collector's reach, a full collection under load pauses the event
        # loop for 6-9 ms instead of 57-87 ms (measured with benchmarks/load_api.py).
        gc.freeze()
        yield
        engine.dispose()

    app = FastAPI(
        title="IDC condensation service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_read_sessionmaker(engine)
    app.state.session_gate = session_gate
    app.state.storage = make_storage(settings)
    app.state.decode_budget = Budget(settings.image_max_pixels)
    app.state.buffer_budget = Budget(settings.upload_buffer_bytes)
    app.state.celery = create_celery(settings)
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics_registry.register(JobStatusCollector(app.state.sessionmaker))
    app.state.metrics_registry.register(
        LivenessCollector(
            app.state.sessionmaker, app.state.celery, settings.queue, settings.worker_stale_s
        )
    )

    for module in (datasets, teachers, jobs, downloads, health):
        app.include_router(module.router)
    app.add_middleware(
        BodySizeLimit,
        limits={"/datasets": settings.upload_max_bytes, "/teachers": settings.teacher_max_bytes},
        default=settings.json_max_bytes,
    )
    app.add_middleware(KeyBeforeBody)
    app.add_middleware(MetricsMiddleware)

    app.add_exception_handler(RequestValidationError, validation_failed)  # type: ignore[arg-type]  # Starlette types handlers for Exception
    install_openapi(app)

    @app.exception_handler(StorageError)
    async def storage_unavailable(_request: Request, error: StorageError) -> JSONResponse:
        log.error("storage error: %s", error)
        return unavailable(f"storage is unavailable: {error}")

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, error: OperationalError) -> JSONResponse:
        log.error("database error: %s", error)
        return unavailable("the database is unavailable")

    @app.exception_handler(DatabaseBusy)
    @app.exception_handler(PoolTimeout)
    async def database_busy(_request: Request, error: Exception) -> JSONResponse:
        log.warning("shedding load: %s", error)
        return unavailable("the service is busy; retry shortly")

    return app


def unavailable(detail: str) -> JSONResponse:
    """503 with Retry-After: the request was fine, the service cannot take it now."""
    return JSONResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )

"""The FastAPI application factory: `uvicorn --factory app.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from app.api.routes import datasets, downloads, health, jobs, teachers
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.limits import BodySizeLimit
from app.metrics import JobStatusCollector, MetricsMiddleware
from app.queue import create_celery
from app.storage import StorageError, make_storage

log = logging.getLogger(__name__)

DESCRIPTION = """
Condenses a dataset of HR images into a small set of HR/LR training pairs for super-resolution
(Instance Data Condensation, or a selection baseline). Upload an archive with `POST /datasets`,
start a job with `POST /condense`, poll `GET /jobs/{id}`, and download the result through the
signed URL of `GET /jobs/{id}/result`. Every call but the probes needs `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_local_dirs()
    engine = make_engine(settings.sqlalchemy_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="IDC condensation service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.storage = make_storage(settings)
    app.state.celery = create_celery(settings)
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics_registry.register(JobStatusCollector(app.state.sessionmaker))

    for module in (datasets, teachers, jobs, downloads, health):
        app.include_router(module.router)
    app.add_middleware(
        BodySizeLimit,
        limits={"/datasets": settings.upload_max_bytes, "/teachers": settings.teacher_max_bytes},
    )
    app.add_middleware(MetricsMiddleware)

    @app.exception_handler(StorageError)
    async def storage_unavailable(_request: Request, error: StorageError) -> JSONResponse:
        log.error("storage error: %s", error)
        return JSONResponse({"detail": f"storage is unavailable: {error}"}, status_code=503)

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, error: OperationalError) -> JSONResponse:
        log.error("database error: %s", error)
        return JSONResponse({"detail": "the database is unavailable"}, status_code=503)

    return app

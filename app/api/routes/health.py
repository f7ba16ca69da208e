"""Liveness, readiness (database, broker, storage) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.metrics import REGISTRY
from app.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process answers; says nothing about its dependencies."""
    return HealthOut(status="ok")


def _check_database(request: Request) -> None:
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_broker(request: Request) -> None:
    with request.app.state.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=3)


def _check_storage(request: Request) -> None:
    request.app.state.storage.check()


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def readyz(request: Request) -> Response:
    """200 when the database, the broker and the storage all answer; 503 and the failures
    otherwise."""
    checks: dict[str, str] = {}
    for name, check in (
        ("database", _check_database),
        ("broker", _check_broker),
        ("storage", _check_storage),
    ):
        try:
            await run_in_threadpool(check, request)
            checks[name] = "ok"
        except Exception as error:  # any failure means not ready; report it, never crash
            checks[name] = f"error: {type(error).__name__}: {error}"[:300]
    ready = all(value == "ok" for value in checks.values())
    body = HealthOut(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: HTTP, upload and job metrics."""
    payload = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics_registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)

"""Liveness, readiness (database, broker, storage, a live worker) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.liveness import live_workers, queue_depth
from app.metrics import request_metrics
from app.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process answers; says nothing about its dependencies."""
    return HealthOut(status="ok")


def _check_database(request: Request) -> None:
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_broker(request: Request) -> int:
    return queue_depth(request.app.state.celery, request.app.state.settings.queue)


def _check_storage(request: Request) -> None:
    request.app.state.storage.check()


class NoLiveWorker(RuntimeError):
    """The workers were counted, and none is alive."""


def _check_workers(request: Request) -> int:
    settings = request.app.state.settings
    count = live_workers(request.app.state.sessionmaker, settings.queue, settings.worker_stale_s)
    if count == 0:
        raise NoLiveWorker(f"no live worker reads queue {settings.queue!r}")
    return count


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def readyz(request: Request) -> Response:
    """200 when the database, the broker and the storage answer and a worker is alive on the
    queue; 503 and the failures otherwise. Also counts the live workers and the waiting
    messages (`queue_depth`)."""
    checks: dict[str, str] = {}
    counts: dict[str, int | None] = {}
    for name, check in (
        ("database", _check_database),
        ("broker", _check_broker),
        ("storage", _check_storage),
        ("workers", _check_workers),
    ):
        try:
            counts[name] = await run_in_threadpool(check, request)
            checks[name] = "ok"
        except NoLiveWorker as error:
            counts[name], checks[name] = 0, f"error: {error}"
        except Exception as error:  # any failure means not ready; report it, never crash
            checks[name] = f"error: {type(error).__name__}: {error}"[:300]
    ready = all(value == "ok" for value in checks.values())
    body = ReadyOut(
        status="ok" if ready else "unavailable",
        checks=checks,
        workers=counts.get("workers"),
        queue_depth=counts.get("broker"),
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: HTTP, upload and job metrics."""
    payload = request_metrics() + generate_latest(request.app.state.metrics_registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)

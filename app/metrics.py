"""Prometheus metrics of the API: request counts and latency, uploads, submitted jobs, and, read
at scrape time, the number of jobs in each status, the live workers and the queue's depth."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.liveness import live_workers, queue_depth
from app.models import Job, JobStatus

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "idc_http_requests",
    "HTTP requests answered",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "idc_http_request_duration_seconds",
    "time to answer a request",
    ["method", "route"],
    registry=REGISTRY,
)
DATASET_UPLOADS = Counter(
    "idc_dataset_uploads", "dataset archives received", ["outcome"], registry=REGISTRY
)
JOBS_SUBMITTED = Counter("idc_jobs_submitted", "jobs accepted", ["method"], registry=REGISTRY)


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's variable: when set before it is imported, every process writes its counts
to files in that folder, which `/metrics` then sums."""


@contextmanager
def multiprocess_metrics(processes: int) -> Iterator[None]:
    """With several API processes, a fresh shared folder for their counts while the block runs
    (the processes inherit the variable); with one, nothing to do."""
    if processes <= 1:
        yield
        return
    folder = tempfile.mkdtemp(prefix="idc-metrics-")
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(folder, ignore_errors=True)


def request_metrics() -> bytes:
    """The request, upload and job counters in Prometheus text: this process's, or every API
    process's summed when they share a folder (`multiprocess_metrics`)."""
    if MULTIPROCESS_DIR not in os.environ:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class JobStatusCollector(Collector):
    """`idc_jobs{status=...}`: jobs per status, counted in the database when scraped."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("idc_jobs", "jobs per status", labels=["status"])
        with self.factory() as session:
            rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        counts = {status: count for status, count in rows}
        for job_status in JobStatus:
            family.add_metric([job_status.value], counts.get(job_status.value, 0))
        yield family


class LivenessCollector(Collector):
    """`idc_workers_live` (workers with a fresh heartbeat on the queue) and `idc_queue_depth`
    (messages waiting in it), counted when scraped; a count that fails is left out."""

    def __init__(
        self, factory: sessionmaker[Session], celery: Celery, queue: str, stale_s: float
    ) -> None:
        self.factory, self.celery, self.queue, self.stale_s = factory, celery, queue, stale_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "idc_workers_live",
            "workers whose heartbeat is fresh, on the service's queue",
            value=live_workers(self.factory, self.queue, self.stale_s),
        )
        try:
            depth = queue_depth(self.celery, self.queue)
        except Exception:  # the broker is away: /readyz says so; the other metrics still count
            return
        yield GaugeMetricFamily("idc_queue_depth", "messages waiting in the queue", value=depth)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (not by raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500

        async def send_with_status(message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status_code)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - start)

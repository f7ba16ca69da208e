"""Prometheus metrics of the API: request counts and latency, uploads, submitted jobs, and the
number of jobs in each status read from the database at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

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

"""The API under many concurrent clients: `GET /jobs/{id}` against the real API (uvicorn, Postgres).

Two loads, loopback only, each bounded in clients and seconds:
1. open loop: `--pollers` clients (200), each polling its own job once a second for `--seconds`
   (60); printed: answers, errors (anything but 200, or no answer), p50/p99 latency.
2. closed loop at each of `--connections` (50, 200, 1000) concurrent connections, each sending its
   next request as soon as the last one is answered, for `--closed-seconds` (10); printed: the
   count of each status, of 500s, of failed connections, throughput and p50/p99.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so that it costs the
machine far less than the API it measures.

    python benchmarks/load_api.py [--pollers 200] [--seconds 60] [--connections 50 200 1000]
                                  [--api-workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.service_under_test import (  # noqa: E402
    DEFAULT_PG_ADMIN_URL,
    cpu_seconds,
    raise_open_file_limit,
    running_service,
)

REQUEST_TIMEOUT_S = 30.0


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)

    def line(self, seconds: float) -> str:
        answered = sum(self.statuses.values())
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        errors = answered - self.statuses[200] + sum(self.failures.values())
        return (
            f"answers {answered}, errors {errors}, 500s {self.statuses[500]}, "
            f"statuses {dict(sorted(self.statuses.items()))}, "
            f"no answer {dict(self.failures)}, {answered / seconds:.0f} req/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )


class Connection:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n\r\n"
        )
        self.writer.write(request.encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _timed_get(connection: Connection, path: str, tally: Tally) -> None:
    start = time.perf_counter()
    try:
        status = await asyncio.wait_for(connection.get(path), REQUEST_TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
        tally.failures[type(error).__name__] += 1
        connection.close()
        return
    tally.latencies_ms.append((time.perf_counter() - start) * 1000)
    tally.statuses[status] += 1


async def open_loop(host: str, port: int, key: str, paths: list[str], seconds: int) -> Tally:
    """Each path polled once a second by its own client, the clients spread over the second."""
    tally = Tally()
    start = time.perf_counter() + 1.0

    async def client(path: str) -> None:
        connection = Connection(host, port, key)
        offset = random.random()
        for tick in range(seconds):
            delay = start + offset + tick - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await _timed_get(connection, path, tally)
        connection.close()

    await asyncio.gather(*(client(path) for path in paths))
    return tally


async def closed_loop(
    host: str, port: int, key: str, paths: list[str], connections: int, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    begin = time.perf_counter()
    deadline = begin + seconds

    async def client(index: int) -> None:
        connection = Connection(host, port, key)
        path = paths[index % len(paths)]
        while time.perf_counter() < deadline:
            await _timed_get(connection, path, tally)
        connection.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    return tally, time.perf_counter() - begin


def _seed_jobs(database_url: str, count: int) -> list[str]:
    """`count` queued jobs of the bench owner, each with one shard (what GET /jobs reads), with
    the request and spec of a real IDC job (what GET /jobs returns)."""
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.models import Job, Shard
    from app.schemas import CondenseRequest

    request = CondenseRequest.model_validate(
        {"dataset_id": "d" * 36, "method": "idc", "teacher": {"mode": "train"}}
    )
    params = request.model_dump(mode="json")
    spec = request.job_spec(8).model_dump(mode="json")
    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            jobs = [
                Job(owner="bench", method="idc", params=params, spec=spec, request_digest="0" * 64)
                for _ in range(count)
            ]
            for job in jobs:
                job.shards.append(Shard(index=0, images=["a"], instances_total=1))
            session.add_all(jobs)
            session.flush()
            return [job.id for job in jobs]
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60, help="open-loop duration")
    parser.add_argument("--connections", type=int, nargs="*", default=[50, 200, 1000])
    parser.add_argument("--closed-seconds", type=float, default=10.0)
    parser.add_argument("--api-workers", type=int, default=1, help="IDC_API_WORKERS of the API")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args()
    if not (1 <= args.pollers <= 2000 and 1 <= args.seconds <= 600):
        parser.error("pollers must be 1..2000 and seconds 1..600")
    if any(not 1 <= c <= 5000 for c in args.connections) or not 0 < args.closed_seconds <= 120:
        parser.error("connections must be 1..5000 and closed-seconds at most 120")
    raise_open_file_limit()
    if not 1 <= args.api_workers <= 64:
        parser.error("api-workers must be 1..64")
    env = {"IDC_API_WORKERS": str(args.api_workers)}
    with running_service(args.pg_admin_url, env) as service:
        split = urlsplit(service.url)
        host, port = split.hostname, split.port
        jobs = _seed_jobs(service.database_url, args.pollers)
        paths = [f"/jobs/{job_id}" for job_id in jobs]
        print(
            f"API {service.url} (uvicorn, {args.api_workers} process(es), Postgres), "
            f"{len(jobs)} jobs",
            flush=True,
        )
        cpu = cpu_seconds(service.pid)
        tally = asyncio.run(open_loop(host, port, service.key, paths, args.seconds))
        cpu = cpu_seconds(service.pid) - cpu
        answered = max(sum(tally.statuses.values()), 1)
        print(
            f"open loop: {args.pollers} clients x 1 req/s x {args.seconds} s: "
            + tally.line(args.seconds)
            + f"; API CPU {cpu * 1000 / answered:.2f} ms per answer; load average "
            f"{os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)",
            flush=True,
        )
        for connections in args.connections:
            tally, elapsed = asyncio.run(
                closed_loop(host, port, service.key, paths, connections, args.closed_seconds)
            )
            print(
                f"closed loop: {connections} connections, {elapsed:.1f} s: " + tally.line(elapsed)
            )


if __name__ == "__main__":
    main()

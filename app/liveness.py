"""What the API reports about the workers: how many are alive on its queue (their heartbeat rows,
written by `worker/heartbeat.py`) and how many messages wait in that queue (the broker's own
count, through kombu: Redis and the SQLite broker alike)."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from kombu.exceptions import ChannelError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import WorkerBeat, utcnow


def live_workers(sessions: sessionmaker[Session], queue: str, stale_s: float) -> int:
    """Workers reading `queue` whose heartbeat is younger than `stale_s` seconds."""
    cutoff = utcnow() - timedelta(seconds=stale_s)
    with sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(WorkerBeat)
            .where(WorkerBeat.queue == queue, WorkerBeat.last_seen >= cutoff)
        )
    return int(count or 0)


def queue_depth(celery: Celery, queue: str) -> int:
    """Messages waiting in `queue` (not those a worker has taken); 0 for a queue never declared."""
    with celery.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=3)
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:  # nothing was ever sent to it
            return 0
        finally:
            channel.close()

"""A job row (and its empty dataset) for the tests that drive job state directly."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.models import Dataset, Job


def add_job(sessions: sessionmaker[Session], owner: str, **values: Any) -> str:
    """Insert a job of `owner` on a dataset without images; `values` set other columns."""
    with session_scope(sessions) as session:
        dataset = Dataset(
            owner=owner,
            name="d",
            image_count=0,
            total_pixels=0,
            total_bytes=0,
            archive_bytes=0,
            digest="sha256:x",
            images=[],
        )
        session.add(dataset)
        session.flush()
        job = Job(
            owner=owner,
            dataset_id=dataset.id,
            method="idc",
            params={},
            spec={},
            request_digest="d",
            timings={},
            **values,
        )
        session.add(job)
        session.flush()
        return job.id

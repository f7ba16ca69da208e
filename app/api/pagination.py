"""One way to page through an owner's rows: newest first, with the total count of matches."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.schemas import Page

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="rows per page")]
# The database's OFFSET is a 64-bit integer; far fewer rows than this exist.
MAX_OFFSET = 2**31 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ].*)?")


def _iso_only(value: Any) -> Any:
    """Refuse what pydantic would read as a Unix time (`0.5`): filters take ISO 8601 only."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2026-01-31T12:00:00Z")
    return value


def _utc_if_naive(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc_if_naive)]


def paginate(
    session: Session,
    query: Select,
    model: Any,
    to_item: Callable[[Any], T],
    limit: int,
    offset: int,
) -> Page[T]:
    """Run `query` (rows of `model`) newest first, ties broken by id, as one page."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(model.created_at.desc(), model.id).limit(limit).offset(offset)
    )
    return Page(items=[to_item(row) for row in rows], total=total, limit=limit, offset=offset)

"""One way to page through an owner's rows: newest first, with the total count of matches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.schemas import Page

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="rows per page")]
Offset = Annotated[int, Query(ge=0, description="rows to skip")]


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

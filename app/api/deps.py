"""Typed dependencies of the routes: settings, database session, storage, queue, owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

import anyio
from celery import Celery
from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.api.early_auth import OWNER_STATE
from app.config import Settings
from app.security import authenticate
from app.storage import Storage

_bearer = HTTPBearer(auto_error=False, description="an API key made with `idc-service create-key`")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session inside one of the API's database slots (see app.db.SessionGate); closed in a
    thread once the request is done, even when the client has gone away."""
    async with request.app.state.session_gate.slot():
        session = request.app.state.sessionmaker()
        try:
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {field.alias for field in dependant.query_params}
    for child in dependant.dependencies:
        names |= _query_names(child)
    return frozenset(names)


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not take, so a misspelt filter (`?stauts=`)
    is not silently ignored. An app-wide dependency; async, so it costs no thread hop."""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    unknown = [name for name in request.query_params if name not in _query_names(route.dependant)]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


def get_queue(request: Request) -> Celery:
    return request.app.state.celery


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
StorageDep = Annotated[Storage, Depends(get_storage)]
QueueDep = Annotated[Celery, Depends(get_queue)]


async def request_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The bearer key of the request, if any (async: no thread hop)."""
    return credentials.credentials if credentials else None


BearerKey = Annotated[str | None, Depends(request_key)]


def unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid API key is needed: 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_current_owner(request: Request, session: SessionDep, key: BearerKey) -> str:
    """The owner of the request's API key; 401 when it is missing, unknown or revoked. A request
    with a body had its key checked before the body was read (app.api.early_auth)."""
    owner = getattr(request.state, OWNER_STATE, None)
    if owner is None and key:
        owner = authenticate(session, key)
    if owner is None:
        raise unauthorized()
    return owner


CurrentOwner = Annotated[str, Depends(get_current_owner)]


def not_found(kind: str, item_id: str) -> HTTPException:
    """The same 404 for missing rows and other owners' rows, so ids leak nothing."""
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{kind} {item_id} not found")


def valid_row_id(row_id: str) -> bool:
    """False for an id that no row can have, not to be sent to the database (Postgres refuses
    NUL in text); such an id is answered with the 404 of `not_found` (named by its first 36)."""
    return len(row_id) <= 36 and "\x00" not in row_id


OwnedRow = TypeVar("OwnedRow")


def get_owned(session: Session, model: type[OwnedRow], owner: str, row_id: str) -> OwnedRow:
    """The row of `model` with this id if `owner` owns it; otherwise the 404 of `not_found`."""
    if not valid_row_id(row_id):
        raise not_found(model.__name__.lower(), row_id[:36])
    row = session.get(model, row_id)
    if row is None or getattr(row, "owner", None) != owner:
        raise not_found(model.__name__.lower(), row_id)
    return row


def delete_unless_in_use(
    session: Session,
    storage: Storage,
    row: Any,
    in_use_by: InstrumentedAttribute[str | None],
    prefix: str,
) -> None:
    """Delete an owned row and its files, or answer 409 while an unfinished job still uses it
    (`in_use_by` is the Job column that points at the row, e.g. `Job.dataset_id`)."""
    from app.models import FINISHED, Job

    kind = type(row).__name__.lower()
    active = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(in_use_by == row.id, Job.status.not_in([s.value for s in FINISHED]))
    )
    if active:
        raise HTTPException(409, f"{active} unfinished job(s) use this {kind}; cancel them first")
    storage.delete_prefix(prefix)
    session.delete(row)
    session.commit()

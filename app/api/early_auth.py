"""The API key of a request with a body is checked before any of the body is read.

FastAPI reads and parses a body before it runs the dependencies, so without this a client with no
key could make the API read and parse a body of any size. The owner found here is handed to
`get_current_owner` in the request's state, so the key is looked up once.
"""

from __future__ import annotations

import json

from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import DatabaseBusy
from app.security import authenticate

BODY_METHODS = {"POST", "PUT", "PATCH"}
OWNER_STATE = "owner"


def bearer_key(scope: Scope) -> str | None:
    value = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


class KeyBeforeBody:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        key = bearer_key(scope)
        try:
            owner = await _owner_of(scope["app"], key) if key else None
        except (DatabaseBusy, OperationalError):
            await _answer(send, 503, "the service is busy; retry shortly", {b"retry-after": b"2"})
            return
        if owner is None:
            detail = "a valid API key is needed: 'Authorization: Bearer <key>'"
            await _answer(send, 401, detail, {b"www-authenticate": b"Bearer"})
            return
        scope.setdefault("state", {})[OWNER_STATE] = owner
        await self.app(scope, receive, send)


async def _owner_of(app, key: str) -> str | None:
    return await app.state.session_gate.run(
        app.state.read_sessionmaker, lambda session: authenticate(session, key)
    )


async def _answer(send: Send, status: int, detail: str, headers: dict[bytes, bytes]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers.items(),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

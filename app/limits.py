"""Refuses request bodies above a size limit while they stream in (413), before the multipart
parser has spooled a huge upload to disk or the JSON parser has read a huge body."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Multipart framing (boundaries, part headers, small form fields) on top of the file itself.
_FRAMING_SLACK = 1024 * 1024


class BodySizeLimit:
    """`limits` maps an upload path to the largest body it accepts (plus multipart framing);
    every other request's body, JSON, may have `default` bytes."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload_limit = self.limits.get(scope.get("path", ""))
        limit = self.default if upload_limit is None else upload_limit + _FRAMING_SLACK
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # FastAPI re-raises HTTPExceptions met while it reads the body.
                raise HTTPException(413, f"the request body exceeds {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body exceeds {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})

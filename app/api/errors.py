"""The 422 answer to a request that fails validation: FastAPI's shape (`detail`: a list of errors
with `loc`, `msg`, `type`, `input`), with each echoed `input` made small and JSON-safe.

FastAPI's own handler echoes the input whole: NaN or Infinity in a body could not be encoded (500),
and a 100 MB body came back as a 100 MB answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

ECHO_MAX_CHARS = 200


def echo(value: Any) -> Any:
    """`value` as it may appear in an answer: small JSON values as they are, anything else (a
    non-finite number, a large or unencodable value) as a repr cut to ECHO_MAX_CHARS."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    try:
        text = json.dumps(jsonable_encoder(value), allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if text is not None and len(text) <= ECHO_MAX_CHARS:
        return json.loads(text)
    shown = repr(value)
    return shown if len(shown) <= ECHO_MAX_CHARS else shown[:ECHO_MAX_CHARS] + "..."


def _error(error: dict[str, Any]) -> dict[str, Any]:
    safe = {
        "type": error.get("type", "value_error"),
        "loc": [part if isinstance(part, (str, int)) else str(part) for part in error["loc"]],
        "msg": str(error.get("msg", ""))[: ECHO_MAX_CHARS * 2],
    }
    if "input" in error:
        safe["input"] = echo(error["input"])
    if error.get("ctx"):
        safe["ctx"] = {str(name): echo(value) for name, value in error["ctx"].items()}
    return safe


async def validation_failed(_request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": [_error(item) for item in error.errors()]}, status_code=422)

"""The OpenAPI document with the error answers every route can give, added where they happen:
401 and 503 (busy or unavailable database or storage) on each route that needs a key, 404 on each
of those that names a row in its path, 400 and 413 on each route with a body, and a 422 whose `detail` is
either FastAPI's list of validation errors or the route's own message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}


def _answer(description: str, schema: dict[str, Any] = _ERROR) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _add_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})

    def add(code: int, description: str, schema: dict[str, Any] = _ERROR) -> None:
        known = responses.get(str(code), {})
        responses[str(code)] = _answer(known.get("description", description), schema)

    if operation.get("security"):
        add(401, "the API key is missing, unknown or revoked")
        add(503, "the service is busy, or its database or storage is unavailable (Retry-After)")
        if "{" in path:
            add(404, "not found (or owned by another key)")
    if operation.get("requestBody"):
        add(400, "the body cannot be parsed (malformed JSON or multipart)")
        add(413, "the request body is too large")
    if "422" in responses or method in ("post", "put", "patch"):
        add(422, "invalid request", {"anyOf": [_VALIDATION, _ERROR]})


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` build the document once with the error answers added."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path, item in schema["paths"].items():
                for method, operation in item.items():
                    _add_errors(path, method, operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

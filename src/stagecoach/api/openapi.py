"""The OpenAPI document says every answer an operation can give, errors included.

FastAPI documents the success and a 422 of its own shape; the errors stagecoach really
sends are problem+json (``api/problems.py``) from the edge (400 NUL, 413 body), the
authentication (401, 403 CSRF), the routes (404, 409, ...) and validation (422). They are
added here to every operation by what it has: a path parameter can be unknown (404), a
body can be too large (413), a secured operation can be refused (401, 403).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from stagecoach.api import poll
from stagecoach.api.problems import PROBLEM, title

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
WHY = {
    400: "The path or query holds a NUL character, or the request is malformed",
    401: "Not signed in, or the token is unknown, expired or revoked",
    403: "Not allowed, or a cookie-signed write without its X-CSRF-Token header",
    404: "No such resource, or one this user may not see",
    409: "The change conflicts with the job's status",
    413: "The request body is larger than the limit",
    415: "A file of a format that is not accepted, or that the pipeline cannot read",
    422: "The request does not validate",
    429: "Too many failed sign-ins; Retry-After says when to try again",
    507: "The server ran out of storage space",
}
# Operations with errors of their own, beyond what their shape implies.
EXTRA = {
    ("post", "/api/v1/auth/token"): (401, 429),
    ("post", "/api/v1/upload"): (409, 415, 507),
    ("patch", "/api/v1/jobs/{job_id}"): (409,),
    ("post", "/api/v1/jobs/{job_id}/cancel"): (409,),
    ("post", "/api/v1/jobs/{job_id}/retry"): (409,),
    ("post", "/api/v1/users"): (409,),
    ("post", "/api/v1/jobs"): (404,),  # an unknown related file or parent job
}
OPEN = {("get", "/healthz"), ("get", "/metrics"), ("post", "/api/v1/auth/token")}
BODY_METHODS = {"post", "put", "patch"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[poll.documented, *app.routes],
                tags=app.openapi_tags,
            )
            document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = {400, 422}
            if (method, path) not in OPEN:
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            if method in BODY_METHODS:
                codes.add(413)
            codes |= set(EXTRA.get((method, path), ()))
            responses = op.setdefault("responses", {})
            for code in sorted(codes):
                key = str(code)
                # Replace FastAPI's own 422 shape: the answer is problem+json.
                if key not in responses or code == 422:
                    responses[key] = _problem(code)
                else:
                    responses[key].setdefault("content", {})[PROBLEM] = _content()
            if "429" in responses:
                responses["429"]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
                }


def _problem(code: int) -> dict[str, Any]:
    return {"description": WHY.get(code, title(code)), "content": {PROBLEM: _content()}}


def _content() -> dict[str, Any]:
    return {"schema": {"$ref": "#/components/schemas/Problem"}}

"""GET /api/v1/jobs/{job_id}/status: the compact status for polling, with a strong ETag.

The hottest path of the service (every open page and client asks every few seconds), so it
is served by a small ASGI handler in front of the app: no route matching over every route,
no dependency injection, no response validation. Authentication, visibility, the reads and
the status document are the same functions every other path uses. The FastAPI route below
declares it for /docs and serves it when the handler is not installed.
"""

from __future__ import annotations

import hashlib
import re
from http.cookies import SimpleCookie

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from stagecoach.api.deps import SESSION_COOKIE, token_user
from stagecoach.api.problems import problem, service_headers
from stagecoach.api.schemas import JobStatusOut
from stagecoach.services.errors import ServiceError
from stagecoach.services.registry import Services

PATH = re.compile(r"^/api/v1/jobs/([^/]+)/status$")
router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


def status_response(
    services: Services, authorization: str, cookie: str, if_none_match: str | None, job_id: str
) -> Response:
    try:
        session = ""
        if cookie:
            morsel = SimpleCookie(cookie).get(SESSION_COOKIE)
            session = morsel.value if morsel else ""
        user, _ = token_user(services, authorization, session)
        body = orjson.dumps(services.tracking.status(user, job_id))
    except ServiceError as exc:
        return problem(exc.status_code, exc.detail, headers=service_headers(exc))
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/{job_id}/status",
    response_model=JobStatusOut,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
    openapi_extra={"security": [{"OAuth2PasswordBearer": []}]},
)
async def job_status(job_id: str, request: Request) -> Response:
    """The compact status for polling, with a strong ETag; If-None-Match answers 304."""
    h = request.headers
    return status_response(
        request.app.state.services,
        h.get("authorization", ""),
        h.get("cookie", ""),
        h.get("if-none-match"),
        job_id,
    )


class PollFastLane:
    """Serves the status poll before the app's routing; passes everything else through."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            m = PATH.match(scope["path"])
            if m is not None:
                h = {k: v for k, v in scope["headers"] if k in _WANTED}
                response = status_response(
                    self.services,
                    h.get(b"authorization", b"").decode("latin-1"),
                    h.get(b"cookie", b"").decode("latin-1"),
                    h[b"if-none-match"].decode("latin-1") if b"if-none-match" in h else None,
                    m.group(1),
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_WANTED = {b"authorization", b"cookie", b"if-none-match"}

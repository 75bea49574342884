"""GET /api/v1/jobs/{job_id}/status: the compact status for polling, with a strong ETag.

The hottest path of the service (every open page and client asks every few seconds). It is
a route of the app's router, behind the same middleware as every other, with the same
authentication; the document comes from ``Tracking.build``. It is a plain ASGI route
(``route``) rather than a FastAPI operation: FastAPI's request handling (its dependency
solving, exit stacks, request and response objects) took two thirds of a poll answered
from memory. Its OpenAPI description is ``documented``, a FastAPI operation that is
described but never served. Errors are raised as everywhere else and answered as
problem+json by the app's exception handlers (api/problems.py).

A poll the change feed vouches for is answered from memory on the event loop, with no I/O
(services/polls.py). The others run their reads, the build and the JSON encoding in a small
thread pool of their own (``STAGECOACH_POLL_THREADS``), never on the event loop: a few
threads hand the GIL back and forth far less than the forty of the shared pool.
``If-None-Match`` with the current ETag is answered 304 without building the document.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi.routing import APIRoute
from starlette.requests import cookie_parser
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from stagecoach.api.deps import SESSION_COOKIE, bearer_token, token_user
from stagecoach.api.schemas import JobStatusOut
from stagecoach.services.polls import Answer

PATH = "/api/v1/jobs/{job_id}/status"


class StatusPoll:
    """The route's ASGI app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        services = app.state.services
        job_id: str = scope["path_params"]["job_id"]
        authorization, cookie, if_none_match = _headers(scope)
        session = cookie_parser(cookie).get(SESSION_COOKIE, "") if cookie else ""
        token = (bearer_token(authorization) or session).strip()
        pool: ThreadPoolExecutor = app.state.poll_pool
        answer: Answer | None = services.polls.from_memory(
            token, job_id, if_none_match, pool.submit
        )
        if answer is None:

            def from_database() -> Answer:
                user, _ = token_user(services, authorization, session)
                return services.polls.from_database(user, job_id, if_none_match)  # type: ignore[no-any-return]

            answer = await asyncio.get_running_loop().run_in_executor(pool, from_database)
        etag, body = answer
        headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
        if body is None:
            status, body = 304, b""
        else:
            status = 200
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def _headers(scope: Scope) -> tuple[str, str, str | None]:
    """Authorization, Cookie and If-None-Match (the first of each), as text."""
    authorization = cookie = ""
    if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
        elif name == b"cookie" and not cookie:
            cookie = value.decode("latin-1")
        elif name == b"if-none-match" and if_none_match is None:
            if_none_match = value.decode("latin-1")
    return authorization, cookie, if_none_match


route = Route(PATH, StatusPoll(), methods=["GET"], name="job_status")


def _job_status(job_id: str) -> JobStatusOut:
    """The compact status for polling, with a strong ETag; If-None-Match answers 304."""
    raise NotImplementedError  # described only: ``route`` serves it


documented = APIRoute(
    PATH,
    _job_status,
    methods=["GET"],
    response_model=JobStatusOut,
    tags=["jobs"],
    name="job_status",
    summary="Job Status",
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
    openapi_extra={"security": [{"OAuth2PasswordBearer": []}]},
)


def thread_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stagecoach-poll")

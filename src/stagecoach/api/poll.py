"""GET /api/v1/jobs/{job_id}/status: the compact status for polling, with a strong ETag.

The hottest path of the service (every open page and client asks every few seconds). It is
an ordinary route on the ordinary read path: authentication as everywhere else, the document
from ``Tracking.build``. Its reads, the build and the JSON encoding run in a small thread
pool of their own (``STAGECOACH_POLL_THREADS``), never on the event loop: a few threads
hand the GIL back and forth far less than the forty of the shared pool, whose hand-offs
cost more than the poll itself. ``If-None-Match`` with the current ETag is answered 304
after one narrow read, without building the document.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from stagecoach.api.deps import SESSION_COOKIE, token_user
from stagecoach.api.schemas import JobStatusOut

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}/status",
    response_model=JobStatusOut,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
    openapi_extra={"security": [{"OAuth2PasswordBearer": []}]},
)
async def job_status(job_id: str, request: Request) -> Response:
    """The compact status for polling, with a strong ETag; If-None-Match answers 304."""
    services = request.app.state.services
    h = request.headers
    authorization, session = h.get("authorization", ""), request.cookies.get(SESSION_COOKIE, "")
    if_none_match = h.get("if-none-match")

    def answer() -> tuple[str, bytes | None]:
        user, _ = token_user(services, authorization, session)
        etag, doc = services.tracking.poll(user, job_id, if_none_match)
        return etag, None if doc is None else orjson.dumps(doc)

    pool: ThreadPoolExecutor = request.app.state.poll_pool
    etag, body = await asyncio.get_running_loop().run_in_executor(pool, answer)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def thread_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stagecoach-poll")

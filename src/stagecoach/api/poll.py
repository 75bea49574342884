"""GET /api/v1/jobs/{job_id}/status: the compact status for polling, with a strong ETag.

The hottest path of the service (every open page and client asks every few seconds). It is
an ordinary route on the ordinary read path: authentication as everywhere else, the document
from ``Tracking.build``. A poll the change feed vouches for is answered from memory on the
event loop, with no I/O (services/polls.py). The others run their reads, the build and the
JSON encoding in a small thread pool of their own (``STAGECOACH_POLL_THREADS``), never on
the event loop: a few threads hand the GIL back and forth far less than the forty of the
shared pool. ``If-None-Match`` with the current ETag is answered 304 without building the
document.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from starlette.responses import Response

from stagecoach.api.deps import SESSION_COOKIE, bearer_token, token_user
from stagecoach.api.schemas import JobStatusOut

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}/status",
    response_model=JobStatusOut,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
    openapi_extra={
        "security": [{"OAuth2PasswordBearer": []}],
        # Declared here, not as a parameter: FastAPI's parameter solving cost a fifth of
        # the poll answered from memory.
        "parameters": [
            {
                "name": "job_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": "Job Id"},
            }
        ],
    },
)
async def job_status(request: Request) -> Response:
    """The compact status for polling, with a strong ETag; If-None-Match answers 304."""
    job_id: str = request.path_params["job_id"]
    services = request.app.state.services
    h = request.headers
    authorization, session = h.get("authorization", ""), request.cookies.get(SESSION_COOKIE, "")
    if_none_match = h.get("if-none-match")
    token = (bearer_token(authorization) or session).strip()
    pool: ThreadPoolExecutor = request.app.state.poll_pool
    answer = services.polls.from_memory(token, job_id, if_none_match, pool.submit)
    if answer is None:

        def from_database() -> tuple[str, bytes | None]:
            user, _ = token_user(services, authorization, session)
            return services.polls.from_database(user, job_id, if_none_match)  # type: ignore[no-any-return]

        answer = await asyncio.get_running_loop().run_in_executor(pool, from_database)
    etag, body = answer
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def thread_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stagecoach-poll")

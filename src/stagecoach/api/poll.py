"""GET /api/v1/jobs/{job_id}/status: the compact status for polling, with a strong ETag.

The hottest path of the service (every open page and client asks every few seconds). It is
an ordinary route on the ordinary read path: authentication as everywhere else, the document
from ``Tracking.build``. The route is a plain ``def``, so its reads run in the thread pool,
never on the event loop. ``If-None-Match`` with the current ETag is answered 304 after one
narrow read, without building the document.
"""

from __future__ import annotations

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
def job_status(job_id: str, request: Request) -> Response:
    """The compact status for polling, with a strong ETag; If-None-Match answers 304."""
    services = request.app.state.services
    h = request.headers
    user, _ = token_user(
        services, h.get("authorization", ""), request.cookies.get(SESSION_COOKIE, "")
    )
    etag, doc = services.tracking.poll(user, job_id, h.get("if-none-match"))
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if doc is None:
        return Response(status_code=304, headers=headers)
    return Response(orjson.dumps(doc), media_type="application/json", headers=headers)

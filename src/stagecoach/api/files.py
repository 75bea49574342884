"""/api/v1/files: an uploaded file's record and its content (with HTTP Range)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from starlette.responses import Response

from stagecoach.api.blobs import blob_response, content_disposition
from stagecoach.api.deps import CurrentUser, ServicesDep

router = APIRouter(prefix="/api/v1/files", tags=["files"])


@router.get("/{file_id}")
def file_metadata(file_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.files.metadata(user, file_id)


@router.get(
    "/{file_id}/content",
    response_model=None,
    responses={
        206: {"description": "Partial content"},
        416: {"description": "Range not satisfiable"},
    },
)
def file_content(
    file_id: str,
    user: CurrentUser,
    services: ServicesDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    content = services.files.content(user, file_id)
    headers = {
        "Content-Disposition": content_disposition(content.name),
        "X-Content-Type-Options": "nosniff",
    }
    if content.sha256:
        headers["ETag"] = f'"{content.sha256}"'
    return blob_response(services.storage, content.key, content.size, content.mime, headers, range_)

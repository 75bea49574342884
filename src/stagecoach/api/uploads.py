"""POST /api/v1/upload: one or more files, streamed to storage; answers 202 with the job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from stagecoach.api.deps import CurrentUser, ServicesDep
from stagecoach.api.multipart import read_parts
from stagecoach.api.schemas import JobStatusOut
from stagecoach.services.errors import Invalid

router = APIRouter(prefix="/api/v1", tags=["uploads"])


@router.post(
    "/upload",
    status_code=202,
    response_model=JobStatusOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                            "case_name": {"type": "string", "maxLength": 200},
                            "parent_job_id": {"type": "string"},
                            "pipeline": {
                                "type": "string",
                                "enum": ["audio", "document", "dataset", "checksum"],
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload(
    request: Request, user: CurrentUser, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Fields: `files` (1..n), optional `case_name`, `parent_job_id`, `pipeline`."""
    length = request.headers.get("content-length")
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        raise Invalid("Content-Length is not a number") from None
    parts = read_parts(request.headers.get("content-type"), request.stream())
    doc = await services.uploads.receive(user, parts, content_length=content_length)
    response.headers["Location"] = doc["links"]["status"]
    return doc

"""/api/v1/jobs/{job_id}/results: list a job's result files and download one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from starlette.responses import Response

from stagecoach.api.blobs import blob_response, content_disposition
from stagecoach.api.deps import CurrentUser, ServicesDep

router = APIRouter(prefix="/api/v1/jobs", tags=["results"])


@router.get("/{job_id}/results")
def list_results(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return {"job_id": job_id, "results": services.results.list_results(user, job_id)}


@router.get("/{job_id}/results/{name}", response_model=None)
def download_result(
    job_id: str,
    name: str,
    user: CurrentUser,
    services: ServicesDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    r = services.results.open_result(user, job_id, name)
    headers = {
        "Content-Disposition": content_disposition(r.download_name),
        "X-Content-Type-Options": "nosniff",
    }
    return blob_response(services.storage, r.key, r.size, r.mime, headers, range_)

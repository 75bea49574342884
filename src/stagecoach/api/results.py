"""/api/v1/jobs/{job_id}/results: list a job's result files and download one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from stagecoach.api.deps import CurrentUser, ServicesDep

router = APIRouter(prefix="/api/v1/jobs", tags=["results"])


@router.get("/{job_id}/results")
def list_results(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return {"job_id": job_id, "results": services.results.list_results(user, job_id)}


@router.get("/{job_id}/results/{name}")
def download_result(
    job_id: str, name: str, user: CurrentUser, services: ServicesDep
) -> FileResponse:
    r = services.results.open_result(user, job_id, name)
    return FileResponse(
        r.path,
        media_type=r.mime,
        filename=r.download_name,
        headers={"X-Content-Type-Options": "nosniff"},
    )

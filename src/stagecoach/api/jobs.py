"""/api/v1/jobs: create, list, read, report on, poll, timeline, cancel, retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from stagecoach.api.deps import CurrentUser, ServicesDep
from stagecoach.api.schemas import JobCreate, JobList, JobPatch, JobStatusOut, Timeline
from stagecoach.domain.contract import iso
from stagecoach.domain.job_update import Report
from stagecoach.domain.status import JobStatus
from stagecoach.services.tracking import NewJob, error_from_body

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

StatusFilter = JobStatus | None
MAX_OFFSET = 2**31  # past any real list; larger values overflow the database's integer


@router.post("", status_code=201, response_model=JobStatusOut)
def create_job(
    body: JobCreate, user: CurrentUser, services: ServicesDep, response: Response
) -> dict[str, Any]:
    doc = services.tracking.create_job(user, NewJob(**body.model_dump()))
    response.headers["Location"] = doc["links"]["self"]
    return doc


@router.get("", response_model=JobList)
def list_jobs(
    user: CurrentUser,
    services: ServicesDep,
    status: Annotated[
        str | None,
        Query(pattern="^(pending|processing|completed|failed|cancelled|expired)$"),
    ] = None,
    case_name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    docs, total = services.tracking.list_jobs(
        user, status=status, case_name=case_name, limit=limit, offset=offset
    )
    return {"jobs": docs, "total": total, "limit": limit, "offset": offset}


@router.get("/{job_id}", response_model=JobStatusOut)
def get_job(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.tracking.status(user, job_id)


@router.patch("/{job_id}", response_model=JobStatusOut)
def patch_job(
    job_id: str, body: JobPatch, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    report = Report(
        status=body.status,
        current_stage=body.current_stage,
        progress=body.progress,
        message=body.message,
        error=error_from_body(body.error.model_dump() if body.error else None),
        duration_processed=body.duration_processed,
        seq=body.seq,
    )
    doc, _changed = services.tracking.report(user, job_id, report)
    return doc


@router.get("/{job_id}/timeline", response_model=Timeline)
def job_timeline(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    entries = services.tracking.timeline(user, job_id)
    return {
        "job_id": job_id,
        "entries": [
            {
                "at": iso(e.at),
                "kind": e.kind,
                "status": e.status,
                "stage": e.stage,
                "artifact_id": e.artifact_id,
                "attempt": e.attempt,
                "message": e.message,
            }
            for e in entries
        ],
    }


@router.post("/{job_id}/cancel", response_model=JobStatusOut)
def cancel_job(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.tracking.cancel(user, job_id)


@router.post("/{job_id}/retry", response_model=JobStatusOut)
def retry_job(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.tracking.retry(user, job_id)

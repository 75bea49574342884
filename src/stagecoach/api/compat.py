"""The seed documents' own API shapes, for clients written against them (docs/seed-api.md).

A thin translation over the same services as /api/v1/jobs (``services.tracking``): the
request is renamed into a ``Report`` or ``NewJob``, the answer renamed out of the status
document. No rule lives here. Each route is tagged ``seed compatibility`` in OpenAPI.

- seed 000 (Task004): ``POST /jobs/``, ``PATCH /jobs/{id}``, ``GET /jobs/{id}``,
  ``GET /jobs/{id}/timeline``; snake_case, ``stages_history``, status ``InProgress``.
  ``GET /jobs/{id}`` is also the job's web page: a client that asks for JSON
  (``Accept: application/json``) gets JSON, any other (a browser) the page.
- seed 001 (US005): ``GET /api/v1/sessions/{id}/status``, a session being a job.
- seed 002 (DataStory): ``GET /api/jobs/{jobId}`` in camelCase,
  ``POST /api/jobs/{jobId}/callback`` and ``POST /api/jobs/{jobId}/retry``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Scope

from stagecoach.api.deps import CurrentUser, ServicesDep
from stagecoach.api.schemas import ErrorIn
from stagecoach.domain.contract import iso
from stagecoach.domain.errors import ErrorCategory
from stagecoach.domain.job_update import Report
from stagecoach.domain.records import User
from stagecoach.domain.status import JobStatus
from stagecoach.services.registry import Services
from stagecoach.services.tracking import NewJob, error_from_body

TAG = "seed compatibility"
OPENAPI_TAG = {
    "name": TAG,
    "description": "The seed documents' API shapes, kept for clients written against them. "
    "A thin translation over /api/v1/jobs: same rules, same data. New clients should use "
    "/api/v1. See docs/seed-api.md.",
}
COMPAT = {"x-stagecoach-compat": True}
SEED_STAGES = ["Uploading", "Transcribing", "Analyzing"]  # seed 000's stages

# seed 000 writes its statuses in CamelCase ("InProgress"); ours are the status machine's
SEED_STATUS = {
    "pending": "Pending",
    "processing": "InProgress",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "expired": "Expired",
}
_STATUS_IN = {
    **{k: JobStatus(k) for k in ("pending", "processing", "completed", "failed", "cancelled")},
    **{v.lower(): JobStatus(k) for k, v in SEED_STATUS.items() if k != "expired"},
    "in_progress": JobStatus.PROCESSING,
}
# seed 002's error categories, in ours
_CATEGORY_IN = {
    "preprocessing": ErrorCategory.INPUT,
    "analysis": ErrorCategory.PROCESSING,
    "narrative": ErrorCategory.DEPENDENCY,
    "visualization": ErrorCategory.PROCESSING,
}


def wants_json(accept: str) -> bool:
    """The client asks for JSON (``application/json`` or a ``+json`` type) by name."""
    accept = accept.lower()
    return "application/json" in accept or "+json" in accept


class JsonAskedRoute(APIRoute):
    """A route that steps aside (no match) unless the client asks for JSON: the page at the
    same path answers then."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not wants_json(Headers(scope=scope).get("accept", "")):
            return Match.NONE, {}
        return match, child


def _status_in(value: str | None) -> JobStatus | None:
    if value is None:
        return None
    found = _STATUS_IN.get(value.strip().lower())
    if found is None:
        raise ValueError(f"unknown status '{value}'; one of: {', '.join(sorted(_STATUS_IN))}")
    return found


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SeedJobCreate(_Strict):
    """seed 000's ``POST /jobs/``: the files and, optionally, the stages or the first one."""

    related_file_ids: list[str] = Field(default_factory=list, max_length=1000)
    current_stage: str | None = Field(None, min_length=1, max_length=64)
    stages: list[str] | None = Field(None, max_length=50)
    case_name: str | None = Field(None, min_length=1, max_length=200)
    parent_job_id: str | None = Field(None, max_length=36)
    duration_total: float | None = Field(None, ge=0)
    unit: str | None = Field(None, min_length=1, max_length=32)


class SeedJobPatch(_Strict):
    """seed 000's ``PATCH /jobs/{id}`` (``update_stage``): stage and/or status."""

    current_stage: str | None = Field(None, min_length=1, max_length=64)
    status: str | None = Field(None, max_length=32)
    progress: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    message: str | None = Field(None, max_length=1000)
    error: ErrorIn | None = None
    duration_processed: float | None = Field(None, ge=0, allow_inf_nan=False)
    seq: int | None = Field(None, ge=0, le=2**62)

    @field_validator("status")
    @classmethod
    def _known_status(cls, v: str | None) -> str | None:
        _status_in(v)
        return v


class CallbackError(_Strict):
    code: str = Field("processing_failed", min_length=1, max_length=64)
    message: str = Field("Processing failed. Please try again.", max_length=1000)
    category: str = Field("processing", max_length=32)
    retryable: bool = True
    hint: str = Field("", max_length=1000)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v.lower() not in _CATEGORY_IN and v.lower() not in set(ErrorCategory):
            known = sorted({*_CATEGORY_IN, *map(str, ErrorCategory)})
            raise ValueError(f"unknown category '{v}'; one of: {', '.join(known)}")
        return v.lower()

    def as_error(self) -> dict[str, Any]:
        category = _CATEGORY_IN.get(self.category) or ErrorCategory(self.category)
        return {
            "code": self.code,
            "message": self.message,
            "category": str(category),
            "retryable": self.retryable,
            "hint": self.hint,
        }


class SeedCallback(_Strict):
    """seed 002's ``POST /api/jobs/{jobId}/callback`` from the processing service."""

    status: Literal["pending", "processing", "completed", "failed"] | None = None
    current_stage: str | None = Field(None, alias="currentStage", min_length=1, max_length=64)
    stage: str | None = Field(None, min_length=1, max_length=64)
    progress: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    message: str | None = Field(None, max_length=1000)
    error: CallbackError | None = None
    duration_processed: float | None = Field(
        None, alias="durationProcessed", ge=0, allow_inf_nan=False
    )
    seq: int | None = Field(None, ge=0, le=2**62)


# --- the shapes out -----------------------------------------------------------------------
def _history(services: Services, user: User, job_id: str) -> list[dict[str, Any]]:
    return [
        {
            "stage": e.stage,
            "status": SEED_STATUS.get(e.status or "", e.status),
            "timestamp": iso(e.at),
            "kind": e.kind,
            "message": e.message,
        }
        for e in services.tracking.timeline(user, job_id)
    ]


def seed000_job(services: Services, user: User, doc: dict[str, Any]) -> dict[str, Any]:
    history = _history(services, user, doc["job_id"])
    return {
        "job_id": doc["job_id"],
        "related_file_ids": [a["file_id"] for a in doc["artifacts"] if a["file_id"]],
        "current_stage": doc["current_stage"],
        "stages_history": [
            {"stage": h["stage"], "timestamp": h["timestamp"]}
            for h in history
            if h["kind"] in ("created", "stage") and h["stage"]
        ],
        "status": SEED_STATUS[doc["status"]],
        "progress": doc["progress"],
        "message": doc["message"],
        "error": doc["error"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }


def seed001_session(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": doc["job_id"],
        "status": doc["status"],
        "progress": doc["progress"],
        "estimated_completion": doc["estimated_completion"],
        "started_at": doc["started_at"],
        "message": doc["message"],
        "duration_processed": doc["duration_processed"],
        "duration_total": doc["duration_total"],
        "eta_text": doc["eta_text"],
        "stalled": doc["stalled"],
        "processing_duration": doc["processing_duration"],
        "updated_at": doc["updated_at"],
        "error": doc["error"],
    }


def seed002_job(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": doc["job_id"],
        "status": doc["status"],
        "progress": doc["progress"],
        "currentStage": doc["current_stage"],
        "message": doc["message"],
        "createdAt": doc["created_at"],
        "updatedAt": doc["updated_at"],
        "attempts": doc["attempts"],
        "maxAttempts": doc["max_attempts"],
    }
    if doc["error"]:
        out["error"] = doc["error"]
    if "results" in doc["links"]:
        out["resultsUrl"] = doc["links"]["results"]
    return out


# --- routes -------------------------------------------------------------------------------
router = APIRouter(tags=[TAG])


def _route(path: str, method: str, **kw: Any) -> Callable[[Callable[..., Any]], Any]:
    return router.api_route(path, methods=[method], openapi_extra=COMPAT, **kw)


@_route("/jobs/", "POST", status_code=201, summary="Create a job (seed 000)")
def seed_create_job(
    body: SeedJobCreate, user: CurrentUser, services: ServicesDep, response: Response
) -> dict[str, Any]:
    stages = body.stages or ([body.current_stage] if body.current_stage else SEED_STAGES)
    if body.current_stage and body.current_stage not in stages:
        stages = [body.current_stage, *stages]
    doc = services.tracking.create_job(
        user,
        NewJob(
            related_file_ids=body.related_file_ids,
            stages=stages,
            case_name=body.case_name,
            parent_job_id=body.parent_job_id,
            duration_total=body.duration_total,
            unit=body.unit,
        ),
    )
    if body.current_stage and body.current_stage != doc["current_stage"]:
        doc, _ = services.tracking.report(
            user, doc["job_id"], Report(current_stage=body.current_stage)
        )
    response.headers["Location"] = f"/jobs/{doc['job_id']}"
    return seed000_job(services, user, doc)


@_route("/jobs/{job_id}", "PATCH", summary="Update a job's stage or status (seed 000)")
def seed_patch_job(
    job_id: str, body: SeedJobPatch, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    doc, _ = services.tracking.report(
        user,
        job_id,
        Report(
            status=_status_in(body.status),
            current_stage=body.current_stage,
            progress=body.progress,
            message=body.message,
            error=error_from_body(body.error.model_dump() if body.error else None),
            duration_processed=body.duration_processed,
            seq=body.seq,
        ),
    )
    return seed000_job(services, user, doc)


def seed_get_job(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """The job's latest status, in seed 000's shape, to a client that asks for JSON
    (``Accept: application/json``); any other gets the job's web page."""
    return seed000_job(services, user, services.tracking.status(user, job_id))


router.add_api_route(
    "/jobs/{job_id}",
    seed_get_job,
    methods=["GET"],
    summary="A job's latest status (seed 000)",
    openapi_extra=COMPAT,
    route_class_override=JsonAskedRoute,
)


@_route("/jobs/{job_id}/timeline", "GET", summary="A job's full status history (seed 000)")
def seed_job_timeline(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return {"job_id": job_id, "stages_history": _history(services, user, job_id)}


@_route("/api/v1/sessions/{session_id}/status", "GET", summary="A session's status (seed 001)")
def seed_session_status(
    session_id: str, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    return seed001_session(services.tracking.status(user, session_id))


@_route("/api/jobs/{job_id}", "GET", summary="A job's status, camelCase (seed 002)")
def seed_camel_job(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return seed002_job(services.tracking.status(user, job_id))


@_route("/api/jobs/{job_id}/callback", "POST", summary="A processing service reports (seed 002)")
def seed_callback(
    job_id: str, body: SeedCallback, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    status = JobStatus(body.status) if body.status else None
    doc, _ = services.tracking.report(
        user,
        job_id,
        Report(
            status=status,
            current_stage=body.current_stage or body.stage,
            progress=body.progress,
            message=body.message,
            error=error_from_body(body.error.as_error() if body.error else None),
            duration_processed=body.duration_processed,
            seq=body.seq,
        ),
    )
    return seed002_job(doc)


@_route("/api/jobs/{job_id}/retry", "POST", summary="Retry a failed job (seed 002)")
def seed_retry(job_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return seed002_job(services.tracking.retry(user, job_id))

"""Request and response shapes of API v1 (the OpenAPI at /docs is built from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stagecoach.domain.errors import ErrorCategory
from stagecoach.domain.status import JobStatus

Name = Field(min_length=1, max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorIn(Strict):
    code: str = Field("processing_failed", min_length=1, max_length=64)
    category: ErrorCategory = ErrorCategory.PROCESSING
    retryable: bool = False
    message: str = Field("Processing failed. Please try again.", max_length=1000)
    hint: str = Field("", max_length=1000)


class JobCreate(Strict):
    related_file_ids: list[str] = Field(default_factory=list, max_length=1000)
    pipeline: str | None = Field(None, min_length=1, max_length=64)
    stages: list[str] | None = Field(None, max_length=50)
    case_name: str | None = Field(None, min_length=1, max_length=200)
    parent_job_id: str | None = Field(None, max_length=36)
    duration_total: float | None = Field(None, ge=0)
    unit: str | None = Field(None, min_length=1, max_length=32)


class JobPatch(Strict):
    status: JobStatus | None = None
    current_stage: str | None = Field(None, min_length=1, max_length=64)
    progress: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    message: str | None = Field(None, max_length=1000)
    error: ErrorIn | None = None
    duration_processed: float | None = Field(None, ge=0, allow_inf_nan=False)
    seq: int | None = Field(None, ge=0, le=2**62)


class ArtifactOut(BaseModel):
    artifact_id: str
    file_id: str | None
    filename: str
    file_type: str
    status: str
    current_stage: str | None
    progress: float
    processing_stages: dict[str, float]
    stage_units: dict[str, Any]
    started_at: str | None
    completed_at: str | None
    error: dict[str, Any] | None
    error_message: str | None


class JobStatusOut(BaseModel):
    """The status contract (docs/status.md describes every field)."""

    job_id: str
    owner_id: str
    status: Literal["pending", "processing", "completed", "failed", "cancelled", "expired"]
    pipeline: str | None
    current_stage: str | None
    stages: list[str]
    progress: float
    message: str
    created_at: str | None
    started_at: str | None
    updated_at: str | None
    finished_at: str | None
    estimated_completion: str | None
    eta_seconds: float | None
    eta_low: str | None
    eta_high: str | None
    eta_text: str | None
    queue_position: int | None
    duration_processed: float | None
    duration_total: float | None
    unit: str | None
    stalled: bool
    stalled_seconds: float | None
    error: dict[str, Any] | None
    attempts: int
    max_attempts: int
    case_name: str | None
    parent_job_id: str | None
    processing_duration: float | None
    expired: bool
    artifacts: list[ArtifactOut]
    links: dict[str, str]


class JobList(BaseModel):
    jobs: list[JobStatusOut]
    total: int
    limit: int
    offset: int


class TimelineEntry(BaseModel):
    at: str
    kind: str
    status: str | None
    stage: str | None
    artifact_id: str | None
    attempt: int | None
    message: str | None


class Timeline(BaseModel):
    job_id: str
    entries: list[TimelineEntry]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["analyst", "manager", "admin"] = "analyst"
    manager: str | None = Field(None, min_length=1, max_length=64)


class UserOut(BaseModel):
    user_id: str
    username: str
    role: str
    manager_id: str | None
    created_at: str | None

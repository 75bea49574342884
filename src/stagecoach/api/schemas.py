"""Request and response shapes of API v1 (the OpenAPI at /docs is built from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stagecoach.domain.errors import ErrorCategory
from stagecoach.domain.filenames import MAX_CASE_NAME, case_name_text
from stagecoach.domain.status import JobStatus

# Every number has bounds and every string a length, and none is coerced from another type
# ("50" is not a progress, true is not a seq). A duration or amount in any unit (audio
# seconds, pages, rows, bytes) stays below a petabyte's worth.
MAX_AMOUNT = 1e15
MAX_SEQ = 2**62


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; it is never meaningful in a name or a message.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _case_name(value: str) -> str | None:
    return case_name_text(value)  # the same rule as uploads; ValueError answers 422


Text = Annotated[str, Field(strict=True), AfterValidator(_no_nul)]
CaseName = Annotated[
    str, Field(strict=True, min_length=1, max_length=MAX_CASE_NAME), AfterValidator(_case_name)
]
Amount = Annotated[float, Field(strict=True, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorIn(Strict):
    code: Text = Field("processing_failed", min_length=1, max_length=64)
    category: ErrorCategory = ErrorCategory.PROCESSING
    retryable: bool = Field(False, strict=True)
    message: Text = Field("Processing failed. Please try again.", max_length=1000)
    hint: Text = Field("", max_length=1000)


class JobCreate(Strict):
    related_file_ids: list[Annotated[Text, Field(max_length=36)]] = Field(
        default_factory=list, max_length=1000
    )
    pipeline: Text | None = Field(None, min_length=1, max_length=64)
    stages: list[Annotated[Text, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=50
    )
    case_name: CaseName | None = None
    parent_job_id: Text | None = Field(None, max_length=36)
    duration_total: Amount | None = None
    unit: Text | None = Field(None, min_length=1, max_length=32)


class JobPatch(Strict):
    status: JobStatus | None = None
    current_stage: Text | None = Field(None, min_length=1, max_length=64)
    progress: float | None = Field(None, strict=True, ge=0, le=100, allow_inf_nan=False)
    message: Text | None = Field(None, max_length=1000)
    error: ErrorIn | None = None
    duration_processed: Amount | None = None
    seq: int | None = Field(None, strict=True, ge=0, le=MAX_SEQ)


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
    pipeline: str | None
    stages: list[str]
    attempts: int
    max_attempts: int
    stalled: bool
    duration_seconds: float | None
    page_count: int | None
    row_count: int | None
    column_count: int | None
    speed: str | None


class JobStatusOut(BaseModel):
    """The status contract (docs/status.md describes every field)."""

    job_id: str
    owner_id: str
    status: Literal["pending", "processing", "completed", "failed", "cancelled", "expired"]
    outcome: Literal["complete", "partial"] | None = Field(
        None,
        description="Once completed: `complete` when every file completed, `partial` when "
        "some failed (see docs/status.md).",
    )
    files_total: int
    files_done: int
    files_failed: int
    files_cancelled: int
    files_running: int
    files_waiting: int
    pipeline: str | None
    current_stage: str | None
    stage_line: str | None
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
    eta_confidence: Literal["estimating", "rough", "good"] | None
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
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=8, max_length=1024)
    role: Literal["analyst", "manager", "admin"] = "analyst"
    manager: Text | None = Field(None, min_length=1, max_length=64)


class UserOut(BaseModel):
    user_id: str
    username: str
    role: str
    manager_id: str | None
    created_at: str | None

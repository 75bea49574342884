"""Pure, frozen records of what the store holds. ``from_row`` reads a row mapping;
``evolve`` makes a changed copy. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Self

from stagecoach.domain.errors import JobError
from stagecoach.domain.status import JobStatus


class Role(StrEnum):
    ANALYST = "analyst"
    MANAGER = "manager"
    ADMIN = "admin"


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


class _Record:
    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        names = _field_names(cls)  # type: ignore[arg-type]
        return cls(**{k: v for k, v in row.items() if k in names})

    @classmethod
    def from_rows(cls, keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Self]:
        """Records from plain rows whose columns are named by ``keys``: the names are matched
        once, not per row (the status poll reads thousands of rows a second)."""
        names = _field_names(cls)  # type: ignore[arg-type]
        wanted = [(i, k) for i, k in enumerate(keys) if k in names]
        return [cls(**{k: row[i] for i, k in wanted}) for row in rows]

    def evolve(self, **changes: Any) -> Self:
        return replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class User(_Record):
    user_id: str
    username: str
    role: Role
    manager_id: str | None = None
    created_at: datetime | None = None
    disabled: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))


@dataclass(frozen=True)
class Job(_Record):
    job_id: str
    owner_id: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    pipeline: str | None = None
    claimable: bool = False
    current_stage: str | None = None
    stages: list[str] = field(default_factory=list)
    progress: float = 0.0
    message: str | None = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    max_attempts: int = 3
    case_name: str | None = None
    parent_job_id: str | None = None
    duration_processed: float | None = None
    duration_total: float | None = None
    unit: str | None = None
    seq: int | None = None
    version: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_progress_at: datetime | None = None
    stalled: bool = False
    estimated_completion: datetime | None = None
    eta_low: datetime | None = None
    eta_high: datetime | None = None
    outcome: str | None = None  # complete | partial, once completed
    expired_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))

    @property
    def job_error(self) -> JobError | None:
        return JobError.from_dict(self.error) if self.error else None


@dataclass(frozen=True)
class Artifact(_Record):
    artifact_id: str
    job_id: str
    position: int
    filename: str
    file_type: str
    status: JobStatus
    file_id: str | None = None
    current_stage: str | None = None
    progress: float = 0.0
    processing_stages: dict[str, float] = field(default_factory=dict)
    stage_units: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: dict[str, Any] | None = None
    error_message: str | None = None
    # The unit of work: its own pipeline, attempts, lease and fence.
    pipeline: str | None = None
    stages: list[str] = field(default_factory=list)
    claimable: bool = False
    queued_at: datetime | None = None
    attempts: int = 0
    max_attempts: int = 3
    run_after: datetime | None = None
    worker_id: str | None = None
    lease_token: int = 0
    lease_expires_at: datetime | None = None
    last_progress_at: datetime | None = None
    stalled: bool = False
    # Read with the artifact from its file (not columns of the artifact): media facts.
    duration_seconds: float | None = None
    page_count: int | None = None
    row_count: int | None = None
    column_count: int | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))

    @property
    def job_error(self) -> JobError | None:
        return JobError.from_dict(self.error) if self.error else None

    @property
    def media(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds,
            "page_count": self.page_count,
            "row_count": self.row_count,
            "column_count": self.column_count,
            "size": self.size,
        }


@dataclass(frozen=True)
class HistoryEntry(_Record):
    job_id: str
    at: datetime
    kind: str
    status: str | None = None
    stage: str | None = None
    artifact_id: str | None = None
    attempt: int | None = None
    message: str | None = None
    entry_id: int | None = None

"""The status contract: the one response shape the API, the pages and the CLI show.

Built from stored records and the time of asking; pure. ``eta_seconds`` and ``stalled``
depend on that time, the rest on the stored job alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from stagecoach.domain.progress_text import eta_text, status_message
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.rollup import PARTIAL, file_counts, stage_line
from stagecoach.domain.speed import artifact_speed
from stagecoach.domain.status import JobStatus

FAILED_MESSAGE = "Processing failed. Please try again."


def iso(dt: datetime | None) -> str | None:
    """UTC, milliseconds, with Z. (isoformat is several times faster than strftime.)"""
    if dt is None:
        return None
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class PipelineWords:
    """What a pipeline says of itself: its file type and its words when done."""

    file_type: str | None = None
    complete_message: str | None = None


def message_for(
    job: Job, artifacts: list[Artifact], queue_position: int | None, words: PipelineWords
) -> str:
    err = job.job_error
    if job.status is JobStatus.COMPLETED and job.outcome == PARTIAL:
        c = file_counts(artifacts)
        cause = f" {err.message}" if err else ""
        return f"{c.done} of {c.total} files done; {c.failed + c.cancelled} failed.{cause}"
    types = {a.file_type for a in artifacts}
    file_type = types.pop() if len(types) == 1 else (None if artifacts else words.file_type)
    return status_message(
        job.status,
        file_type=file_type,
        progress=job.progress,
        complete_message=words.complete_message,
        error_message=err.message if err and err.message != FAILED_MESSAGE else None,
        retryable=err.retryable if err else True,
        queue_position=queue_position,
    )


# How wide the range may be, against the job's whole expected length, for each level: the
# range of a guessed prior spans several times the job, a calibrated pace about 1.4 times,
# one finished run of history about 0.8 times, a run well under way a small share of it.
ESTIMATING_SPREAD = 2.0
ROUGH_SPREAD = 0.5


class Clock(NamedTuple):
    """What of a job the fields that move with the clock are made from (``clock_fields``):
    a running job's poll keeps this, not the whole job."""

    status: JobStatus
    progress: float
    stalled: bool
    started_at: datetime | None
    updated_at: datetime
    estimated_completion: datetime | None
    eta_low: datetime | None
    eta_high: datetime | None
    last_progress_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> Clock:
        return cls(
            job.status,
            job.progress,
            job.stalled,
            job.started_at,
            job.updated_at,
            job.estimated_completion,
            job.eta_low,
            job.eta_high,
            job.last_progress_at,
        )


def eta_confidence(
    job: Job | Clock, eta_seconds: float | None, now: datetime, *, stalled: bool = False
) -> str | None:
    """How sure the estimate is: "estimating" (no evidence yet), "rough" or "good".

    Measured by the width of the range (``eta_low``..``eta_high``, which holds the real
    finish about 80 % of the time) against the job's whole expected length (elapsed plus
    left), not against the time left: near its end a long job's finish is well known even
    if the last seconds are relatively uncertain, and a short job on a guessed prior is not
    well known because its range is a few seconds wide.

    It also says when the estimate has failed: a stalled job, or one still running after
    the latest finish its range allowed, is "estimating" again; one past the finish shown
    but inside its range is at best "rough".
    """
    if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
        return None
    if eta_seconds is None or job.eta_low is None or job.eta_high is None or stalled:
        return "estimating"
    if now >= job.eta_high:
        return "estimating"
    assert job.estimated_completion is not None
    start = job.started_at if job.status is JobStatus.PROCESSING and job.started_at else None
    begin = min(start, job.updated_at) if start else job.updated_at
    length = max((job.estimated_completion - begin).total_seconds(), 1e-3)
    spread = (job.eta_high - job.eta_low).total_seconds() / length
    if spread > ESTIMATING_SPREAD:
        return "estimating"
    if spread > ROUGH_SPREAD or now >= job.estimated_completion:
        return "rough"
    return "good"


def artifact_document(a: Artifact) -> dict[str, Any]:
    doc = {
        "artifact_id": a.artifact_id,
        "file_id": a.file_id,
        "filename": a.filename,
        "file_type": a.file_type,
        "status": str(a.status),
        "current_stage": a.current_stage,
        "progress": round(a.progress, 1),
        "processing_stages": a.processing_stages,
        "stage_units": a.stage_units,
        "started_at": iso(a.started_at),
        "completed_at": iso(a.completed_at),
        "error": a.error,
        "error_message": a.error_message,
        "pipeline": a.pipeline,
        "stages": a.stages,
        "attempts": a.attempts,
        "max_attempts": a.max_attempts,
        "stalled": a.stalled and a.status is JobStatus.PROCESSING,
        # the file's media facts (seed 002's rowCount and columnCount among them)
        "duration_seconds": a.duration_seconds,
        "page_count": a.page_count,
        "row_count": a.row_count,
        "column_count": a.column_count,
    }
    doc["speed"] = artifact_speed(doc)  # "1.9× real time", "12 pages/s", once completed
    return doc


def status_document(
    job: Job,
    artifacts: list[Artifact],
    now: datetime,
    *,
    stall_after: float,
    queue_position: int | None = None,
    words: PipelineWords = PipelineWords(),
    base_url: str = "/api/v1",
) -> dict[str, Any]:
    """The status document of ``job`` at ``now``: its settled part, then what moves with
    the clock. The poll keeps a running job's settled part and fills in the clock's fields
    each second (``document_at``) instead of building it all again."""
    settled = settled_document(
        job, artifacts, queue_position=queue_position, words=words, base_url=base_url
    )
    return document_at(settled, job, now, stall_after=stall_after)


def settled_document(
    job: Job,
    artifacts: list[Artifact],
    *,
    queue_position: int | None = None,
    words: PipelineWords = PipelineWords(),
    base_url: str = "/api/v1",
) -> dict[str, Any]:
    """Everything of the document that does not move with the clock. The fields that do
    (eta_seconds, eta_text, eta_confidence, stalled, stalled_seconds) hold placeholders,
    in their places, until ``document_at`` fills them."""
    active = job.status in (JobStatus.PENDING, JobStatus.PROCESSING)
    has_eta = job.estimated_completion is not None and active
    processing_duration = None
    if job.finished_at is not None and job.started_at is not None:
        processing_duration = round((job.finished_at - job.started_at).total_seconds(), 3)
    links = {
        "self": f"{base_url}/jobs/{job.job_id}",
        "status": f"{base_url}/jobs/{job.job_id}/status",
        "timeline": f"{base_url}/jobs/{job.job_id}/timeline",
    }
    if job.status is JobStatus.COMPLETED or job.status is JobStatus.FAILED:
        links["results"] = f"{base_url}/jobs/{job.job_id}/results"
    counts = file_counts(artifacts)
    return {
        "job_id": job.job_id,
        "owner_id": job.owner_id,
        "status": "expired" if job.expired_at is not None else str(job.status),
        "outcome": job.outcome,
        **counts.to_dict(),
        "pipeline": job.pipeline,
        "current_stage": job.current_stage,
        "stage_line": stage_line(job, artifacts) if active else None,
        "stages": job.stages,
        "progress": round(job.progress, 1),
        "message": job.message or message_for(job, artifacts, queue_position, words),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "updated_at": iso(job.updated_at),
        "finished_at": iso(job.finished_at),
        "estimated_completion": iso(job.estimated_completion) if has_eta else None,
        "eta_low": iso(job.eta_low) if has_eta else None,
        "eta_high": iso(job.eta_high) if has_eta else None,
        "queue_position": queue_position if job.status is JobStatus.PENDING else None,
        "duration_processed": job.duration_processed,
        "duration_total": job.duration_total,
        "unit": job.unit,
        "error": job.error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "case_name": job.case_name,
        "parent_job_id": job.parent_job_id,
        "processing_duration": processing_duration,
        "expired": job.expired_at is not None,
        "artifacts": [artifact_document(a) for a in artifacts],
        "links": links,
        # The fields that move with the clock, last (CLOCK_FIELDS): the poll encodes the
        # rest once and appends these each second.
        "eta_seconds": None,
        "eta_text": None,
        "eta_confidence": None,
        "stalled": False,
        "stalled_seconds": None,
    }


CLOCK_FIELDS = ("eta_seconds", "eta_text", "eta_confidence", "stalled", "stalled_seconds")
"""The document's fields that move with the clock; ``settled_document`` puts them last."""


def document_at(
    settled: dict[str, Any], job: Job, now: datetime, *, stall_after: float
) -> dict[str, Any]:
    """``settled`` (of ``job``) with the fields that move with the clock, as of ``now``."""
    return {**settled, **clock_fields(Clock.of(job), now, stall_after=stall_after)}


def clock_fields(clock: Clock, now: datetime, *, stall_after: float) -> dict[str, Any]:
    """The fields of CLOCK_FIELDS, in that order, as of ``now``."""
    active = clock.status in (JobStatus.PENDING, JobStatus.PROCESSING)
    eta_seconds: float | None = None
    if clock.estimated_completion is not None and active:
        eta_seconds = max(0.0, round((clock.estimated_completion - now).total_seconds(), 1))
    stalled_for: float | None = None
    if clock.status is JobStatus.PROCESSING and clock.last_progress_at is not None:
        quiet = (now - clock.last_progress_at).total_seconds()
        if clock.stalled or quiet >= stall_after:
            stalled_for = quiet
    stalled = stalled_for is not None
    return {
        "eta_seconds": eta_seconds,
        "eta_text": eta_text(eta_seconds, clock.progress, stalled_for) if active else None,
        "eta_confidence": eta_confidence(clock, eta_seconds, now, stalled=stalled),
        "stalled": stalled,
        "stalled_seconds": round(stalled_for, 1) if stalled_for is not None else None,
    }


def stall_deadline(job: Job, stall_after: float) -> datetime | None:
    if job.status is not JobStatus.PROCESSING or job.last_progress_at is None:
        return None
    return job.last_progress_at + timedelta(seconds=stall_after)

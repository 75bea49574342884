"""The status contract: the one response shape the API, the pages and the CLI show.

Built from stored records and the time of asking; pure. ``eta_seconds`` and ``stalled``
depend on that time, the rest on the stored job alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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


def eta_confidence(job: Job, eta_seconds: float | None) -> str | None:
    """How sure the estimate is, from the width of its range: "estimating" until there is
    evidence (no estimate, or a range wider than four times over), then "rough", then
    "good"."""
    if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
        return None
    if eta_seconds is None or job.eta_low is None or job.eta_high is None:
        return "estimating"
    assert job.estimated_completion is not None
    low = (job.eta_low - job.updated_at).total_seconds()
    high = (job.eta_high - job.updated_at).total_seconds()
    if high <= 1.0:
        return "good"
    ratio = high / max(low, 0.5)
    if ratio > 4.0:
        return "estimating"
    return "rough" if ratio > 1.6 else "good"


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
    eta_seconds: float | None = None
    if job.estimated_completion is not None and job.status in (
        JobStatus.PENDING,
        JobStatus.PROCESSING,
    ):
        eta_seconds = max(0.0, round((job.estimated_completion - now).total_seconds(), 1))
    stalled_for: float | None = None
    if job.status is JobStatus.PROCESSING and job.last_progress_at is not None:
        quiet = (now - job.last_progress_at).total_seconds()
        if job.stalled or quiet >= stall_after:
            stalled_for = quiet
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
        "stage_line": stage_line(job, artifacts)
        if job.status in (JobStatus.PENDING, JobStatus.PROCESSING)
        else None,
        "stages": job.stages,
        "progress": round(job.progress, 1),
        "message": job.message or message_for(job, artifacts, queue_position, words),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "updated_at": iso(job.updated_at),
        "finished_at": iso(job.finished_at),
        "estimated_completion": iso(job.estimated_completion) if eta_seconds is not None else None,
        "eta_seconds": eta_seconds,
        "eta_low": iso(job.eta_low) if eta_seconds is not None else None,
        "eta_high": iso(job.eta_high) if eta_seconds is not None else None,
        "eta_text": eta_text(eta_seconds, job.progress, stalled_for)
        if job.status in (JobStatus.PENDING, JobStatus.PROCESSING)
        else None,
        "eta_confidence": eta_confidence(job, eta_seconds),
        "queue_position": queue_position if job.status is JobStatus.PENDING else None,
        "duration_processed": job.duration_processed,
        "duration_total": job.duration_total,
        "unit": job.unit,
        "stalled": stalled_for is not None,
        "stalled_seconds": round(stalled_for, 1) if stalled_for is not None else None,
        "error": job.error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "case_name": job.case_name,
        "parent_job_id": job.parent_job_id,
        "processing_duration": processing_duration,
        "expired": job.expired_at is not None,
        "artifacts": [artifact_document(a) for a in artifacts],
        "links": links,
    }


def stall_deadline(job: Job, stall_after: float) -> datetime | None:
    if job.status is not JobStatus.PROCESSING or job.last_progress_at is None:
        return None
    return job.last_progress_at + timedelta(seconds=stall_after)

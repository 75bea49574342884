"""The status contract: the one response shape the API, the pages and the CLI show.

Built from stored records and the time of asking; pure. ``eta_seconds`` and ``stalled``
depend on that time, the rest on the stored job alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus

PIPELINE_WORDS = {
    "audio": ("Processing audio...", "Transcription complete!"),
    "document": ("Processing document...", "Document processing complete!"),
    "dataset": ("Analyzing dataset...", "Analysis complete!"),
    "checksum": ("Verifying file...", "Verification complete!"),
}
FAILED_MESSAGE = "Processing failed. Please try again."


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute"
    minutes = seconds / 60
    if minutes < 59.5:
        m = round(minutes)
        return f"{m} minute" + ("s" if m != 1 else "")
    hours = minutes / 60
    h = round(hours * 2) / 2
    text = f"{h:g}"
    return f"{text} hour" + ("s" if h != 1 else "")


def eta_text(job: Job, eta_seconds: float | None, stalled_for: float | None) -> str | None:
    if job.status is not JobStatus.PROCESSING and job.status is not JobStatus.PENDING:
        return None
    if stalled_for is not None:
        return f"Stalled: no progress for {human_duration(stalled_for)}"
    if job.status is JobStatus.PROCESSING and job.progress > 90:
        return "Almost done"
    if eta_seconds is None:
        return None
    if eta_seconds < 60:
        return "less than a minute left"
    return f"~{human_duration(eta_seconds)} left"


def default_message(job: Job) -> str:
    working, done = PIPELINE_WORDS.get(job.pipeline or "", ("Processing...", "Processing complete!"))
    if job.status is JobStatus.PENDING:
        return "Waiting for a worker..." if job.attempts == 0 else "Waiting to retry..."
    if job.status is JobStatus.PROCESSING:
        return "Almost done" if job.progress > 90 else working
    if job.status is JobStatus.COMPLETED:
        return done
    if job.status is JobStatus.CANCELLED:
        return "Processing was cancelled."
    err = job.job_error
    if err is not None and err.message and err.message != FAILED_MESSAGE:
        return f"{FAILED_MESSAGE} {err.message}"
    return FAILED_MESSAGE


def artifact_document(a: Artifact) -> dict[str, Any]:
    return {
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
    }


def status_document(
    job: Job,
    artifacts: list[Artifact],
    now: datetime,
    *,
    stall_after: float,
    queue_position: int | None = None,
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
    return {
        "job_id": job.job_id,
        "status": "expired" if job.expired_at is not None else str(job.status),
        "pipeline": job.pipeline,
        "current_stage": job.current_stage,
        "stages": job.stages,
        "progress": round(job.progress, 1),
        "message": job.message or default_message(job),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "updated_at": iso(job.updated_at),
        "finished_at": iso(job.finished_at),
        "estimated_completion": iso(job.estimated_completion)
        if eta_seconds is not None
        else None,
        "eta_seconds": eta_seconds,
        "eta_low": iso(job.eta_low) if eta_seconds is not None else None,
        "eta_high": iso(job.eta_high) if eta_seconds is not None else None,
        "eta_text": eta_text(job, eta_seconds, stalled_for),
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

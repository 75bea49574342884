"""Applying a status report to a job: the rules of PATCH, the worker and the retry button.

Pure: given the job as stored, a report and the time, return the job as it should be stored
and the timeline entries to append (none when nothing really changed, so a report applied
twice leaves one entry).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.progress import UNFINISHED_CAP
from stagecoach.domain.records import HistoryEntry, Job
from stagecoach.domain.status import IllegalTransition, JobStatus, can_retry, check_transition

DEFAULT_FAILURE = JobError(
    code="processing_failed",
    category=ErrorCategory.PROCESSING,
    retryable=True,
    message="Processing failed. Please try again.",
    hint="Retry the job. If it fails again, upload the file again or contact support.",
)
CANCELLED = JobError(
    code="cancelled",
    category=ErrorCategory.CANCELLED,
    retryable=False,
    message="Processing was cancelled.",
    hint="Upload the file again to process it.",
)


@dataclass(frozen=True)
class Report:
    """What a reporter (an outside service, the worker, a user action) says about a job."""

    status: JobStatus | None = None
    current_stage: str | None = None
    progress: float | None = None
    message: str | None = None
    error: JobError | None = None
    duration_processed: float | None = None
    seq: int | None = None
    history_message: str | None = None  # why, for the timeline (e.g. "worker lost, requeued")


@dataclass(frozen=True)
class Outcome:
    job: Job
    history: list[HistoryEntry]
    changed: bool
    ignored_reason: str | None = None  # a stale seq, for instance


def apply_report(job: Job, report: Report, now: datetime) -> Outcome:
    if report.seq is not None and job.seq is not None and report.seq <= job.seq:
        return Outcome(job, [], False, f"seq {report.seq} is not newer than {job.seq}")

    changes: dict[str, Any] = {}
    history: list[HistoryEntry] = []
    status = job.status
    wanted = report.status
    # A pending job that hears of progress or a stage has started: say so rather than refuse.
    if (
        wanted is None
        and job.status is JobStatus.PENDING
        and (report.current_stage is not None or (report.progress or 0) > 0)
    ):
        wanted = JobStatus.PROCESSING

    new_attempt = False
    if wanted is not None and wanted is not job.status:
        check_transition(job.status, wanted)
        status = wanted
        changes["status"] = wanted
        if job.status is JobStatus.FAILED and wanted is JobStatus.PENDING:
            ok, why = can_retry(job.status, job.attempts, job.max_attempts)
            if not ok:
                raise IllegalTransition(job.status, wanted, why)
        if wanted is JobStatus.PROCESSING:
            new_attempt = True
            changes["attempts"] = job.attempts + 1
            changes["started_at"] = job.started_at or now
            changes["last_progress_at"] = now
            changes["progress"] = 0.0 if job.status is not JobStatus.PENDING else job.progress
            changes["error"] = None
            changes["finished_at"] = None
        elif wanted is JobStatus.PENDING:
            changes["error"] = None if job.status is JobStatus.FAILED else job.error
            changes["finished_at"] = None
            changes["stalled"] = False
        elif wanted is JobStatus.COMPLETED:
            changes["outcome"] = "complete"  # an outside reporter speaks for the whole job
            changes["progress"] = 100.0
            changes["finished_at"] = now
            changes["error"] = None
            changes["stalled"] = False
            if job.duration_total is not None:
                changes["duration_processed"] = job.duration_total
        elif wanted is JobStatus.FAILED:
            changes["finished_at"] = now
            changes["error"] = (report.error or _failure_from(report.message)).to_dict()
            changes["stalled"] = False
            # The failure's own words (built from the error) replace a running message.
            changes["message"] = None
        elif wanted is JobStatus.CANCELLED:
            changes["finished_at"] = now
            changes["error"] = (report.error or CANCELLED).to_dict()
            changes["stalled"] = False
        history.append(
            HistoryEntry(
                job_id=job.job_id,
                at=now,
                kind="attempt" if new_attempt else "status",
                status=str(wanted),
                stage=report.current_stage or job.current_stage,
                attempt=changes.get("attempts", job.attempts),
                message=report.history_message or _status_note(wanted, report),
            )
        )

    if report.current_stage is not None and report.current_stage != job.current_stage:
        changes["current_stage"] = report.current_stage
        history.append(
            HistoryEntry(
                job_id=job.job_id,
                at=now,
                kind="stage",
                status=str(status),
                stage=report.current_stage,
                attempt=changes.get("attempts", job.attempts),
            )
        )

    progress = report.progress
    if progress is None and report.duration_processed is not None and job.duration_total:
        # Units done move the bar when the reporter gives no percentage (seed US005).
        progress = min(UNFINISHED_CAP, report.duration_processed / job.duration_total * 100)
    if progress is not None and status is JobStatus.PROCESSING:
        base = changes.get("progress", job.progress)
        # Within one attempt progress never goes backwards; a lower report is not applied.
        if progress > base:
            changes["progress"] = progress
            changes["last_progress_at"] = now
            changes["stalled"] = False
    if report.duration_processed is not None and status is JobStatus.PROCESSING:
        base_done = changes.get("duration_processed", job.duration_processed) or 0.0
        if report.duration_processed > base_done:
            changes["duration_processed"] = report.duration_processed
            changes["last_progress_at"] = now
            changes["stalled"] = False
    if (
        report.message is not None
        and report.message != job.message
        and wanted is not JobStatus.FAILED
    ):
        changes["message"] = report.message

    real = {k: v for k, v in changes.items() if getattr(job, k) != v}
    real_with_seq = real if report.seq is None else dict(real, seq=report.seq)
    if not real:
        if report.seq is not None and report.seq != job.seq:
            # Remember the sequence so a later, older report is still recognised as stale.
            return Outcome(job.evolve(seq=report.seq), [], True)
        return Outcome(job, [], False)
    if job.expired_at is not None or (
        not wanted and job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED, JobStatus.FAILED)
    ):
        raise IllegalTransition(
            job.status, job.status, f"job has ended ({job.status}); it takes no more updates"
        )
    new = job.evolve(**real_with_seq, updated_at=now, version=job.version + 1)
    return Outcome(new, history, True)


def _failure_from(message: str | None) -> JobError:
    """A failure reported with only a message: that message is its cause."""
    if not message or message == DEFAULT_FAILURE.message:
        return DEFAULT_FAILURE
    return replace(DEFAULT_FAILURE, message=message)


def _status_note(status: JobStatus, report: Report) -> str | None:
    if status is JobStatus.FAILED and report.error is not None:
        return report.error.message
    return None

"""A job that stagecoach's workers run, as its files say: each file (artifact) goes through
its own pipeline, and the job's status, outcome, stage line and error follow from theirs.

- any file processing, or some ended while others wait: processing;
- every file waiting (none started, or all handed back): pending;
- every file ended: completed when all completed (outcome "complete"), completed with
  outcome "partial" when some completed and others failed or were cancelled, failed when
  none completed, cancelled when all were cancelled.
A cancelled job stays cancelled. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stagecoach.domain.errors import JobError
from stagecoach.domain.queue_rules import generic_failure, units_processed
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus

COMPLETE = "complete"
PARTIAL = "partial"


@dataclass(frozen=True)
class FileCounts:
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def ended(self) -> int:
        return self.done + self.failed + self.cancelled

    def to_dict(self) -> dict[str, int]:
        return {
            "files_total": self.total,
            "files_done": self.done,
            "files_failed": self.failed,
            "files_cancelled": self.cancelled,
            "files_running": self.running,
            "files_waiting": self.waiting,
        }


def file_counts(artifacts: Sequence[Artifact]) -> FileCounts:
    by = {s: 0 for s in JobStatus}
    for a in artifacts:
        by[a.status] += 1
    return FileCounts(
        total=len(artifacts),
        done=by[JobStatus.COMPLETED],
        failed=by[JobStatus.FAILED],
        cancelled=by[JobStatus.CANCELLED],
        running=by[JobStatus.PROCESSING],
        waiting=by[JobStatus.PENDING],
    )


def rolled_up_status(job: Job, artifacts: Sequence[Artifact]) -> tuple[JobStatus, str | None]:
    """The job's status and outcome from its files'."""
    if job.status is JobStatus.CANCELLED:
        return JobStatus.CANCELLED, None
    c = file_counts(artifacts)
    if c.total == 0:
        return job.status, job.outcome
    if c.running:
        return JobStatus.PROCESSING, None
    if c.waiting:
        return (JobStatus.PROCESSING if c.ended else JobStatus.PENDING), None
    if c.done == c.total:
        return JobStatus.COMPLETED, COMPLETE
    if c.done:
        return JobStatus.COMPLETED, PARTIAL
    if c.failed:
        return JobStatus.FAILED, None
    return JobStatus.CANCELLED, None


def first_failure(artifacts: Sequence[Artifact]) -> tuple[Artifact, JobError] | None:
    for a in sorted(artifacts, key=lambda a: a.position):
        if a.status is JobStatus.FAILED:
            err = a.job_error
            if err is None:
                err = generic_failure()
            return a, err
    return None


def job_error(artifacts: Sequence[Artifact]) -> JobError | None:
    """The error a job shows: its first failed file's, named when the job has several."""
    found = first_failure(artifacts)
    if found is None:
        return None
    a, err = found
    # Named when it is that file's own failure, not one every file shares (a broken upload).
    shared = all(
        x.status is JobStatus.FAILED and x.job_error and x.job_error.code == err.code
        for x in artifacts
    )
    if len(artifacts) > 1 and not shared and not err.message.startswith(a.filename):
        err = JobError(
            err.code, err.category, err.retryable, f"{a.filename}: {err.message}", err.hint
        )
    return err


def planned_stages(job: Job, artifacts: Sequence[Artifact]) -> list[str]:
    """The job's stage names: its own first (Uploading), then each file pipeline's, in order."""
    out = [s for s in job.stages if s == "Uploading"][:1]
    for a in sorted(artifacts, key=lambda a: a.position):
        out.extend(s for s in a.stages if s not in out)
    return out or list(job.stages)


def running_stage(job: Job, artifacts: Sequence[Artifact]) -> str | None:
    """The stage the job shows: the first running file's, else what it showed."""
    for a in sorted(artifacts, key=lambda a: a.position):
        if a.status is JobStatus.PROCESSING and a.current_stage:
            return a.current_stage
    return job.current_stage


def stage_line(job: Job, artifacts: Sequence[Artifact]) -> str | None:
    """What is going on, in a line: "Transcribing interview.wav · 2 of 5 files done"."""
    c = file_counts(artifacts)
    if c.total == 0:
        return job.current_stage
    running = [
        a for a in sorted(artifacts, key=lambda a: a.position) if a.status is JobStatus.PROCESSING
    ]
    parts: list[str] = []
    if running:
        a = running[0]
        parts.append(f"{a.current_stage or 'Processing'} {a.filename}")
        if len(running) > 1:
            parts[-1] += f" (+{len(running) - 1} more)"
    elif job.status is JobStatus.PENDING:
        parts.append(job.current_stage or "Waiting")
    if c.total > 1 or not running:
        done = f"{c.done} of {c.total} files done"
        if c.failed:
            done += f", {c.failed} failed"
        parts.append(done)
    return " · ".join(parts)


def roll_up(job: Job, artifacts: Sequence[Artifact], now: datetime) -> Job:
    """The job as its files say (not yet estimated, versioned or saved)."""
    status, outcome = rolled_up_status(job, artifacts)
    changes: dict[str, Any] = {
        "status": status,
        "outcome": outcome,
        "stages": planned_stages(job, artifacts),
        "current_stage": running_stage(job, artifacts),
        "attempts": max([a.attempts for a in artifacts] + [job.attempts if not artifacts else 0]),
    }
    progress_times = [a.last_progress_at for a in artifacts if a.last_progress_at is not None]
    if progress_times:
        changes["last_progress_at"] = max(progress_times)
    changes["stalled"] = any(a.stalled and a.status is JobStatus.PROCESSING for a in artifacts)
    starts = [a.started_at for a in artifacts if a.started_at is not None]
    if job.started_at is None and (starts or status is JobStatus.PROCESSING):
        changes["started_at"] = min(starts) if starts else now
    ended = status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
    if ended:
        was_ended = job.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
        changes["finished_at"] = job.finished_at if was_ended and job.finished_at else now
    else:
        changes["finished_at"] = None
    if status is JobStatus.FAILED or (status is JobStatus.COMPLETED and outcome == PARTIAL):
        err = job_error(artifacts)
        changes["error"] = err.to_dict() if err else None
    elif status is JobStatus.CANCELLED:
        changes["error"] = job.error
    else:
        changes["error"] = None
    if status is JobStatus.COMPLETED:
        changes["progress"] = 100.0
    if ended:
        changes["stalled"] = False
    if job.unit is not None:
        done = units_processed(artifacts, job.unit)
        if status is JobStatus.COMPLETED and outcome == COMPLETE and job.duration_total:
            done = job.duration_total
        if done is not None:
            changes["duration_processed"] = round(done, 3)
    return job.evolve(**changes)


def status_note(old: Job, new: Job, artifacts: Sequence[Artifact]) -> str:
    """The timeline's words for a job's change of status."""
    c = file_counts(artifacts)
    if new.status is JobStatus.COMPLETED and new.outcome == PARTIAL:
        return f"completed in part: {c.done} of {c.total} files done, {c.failed} failed"
    if new.status is JobStatus.COMPLETED:
        return f"completed: {c.total} file{'s' if c.total != 1 else ''} done"
    if new.status is JobStatus.FAILED:
        err = job_error(artifacts)
        return err.message if err else "failed"
    if new.status is JobStatus.PENDING and old.status is JobStatus.PROCESSING:
        return "every file is waiting for a worker again"
    if new.status is JobStatus.PROCESSING and old.status is JobStatus.PENDING:
        return "processing started"
    if new.status is JobStatus.PROCESSING:
        return "processing again"
    return str(new.status)

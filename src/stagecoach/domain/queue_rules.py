"""The queue's pure rules: backoff, what a finished attempt means for its job, progress of
a job run by the worker, and when a lease or a silence counts as lost or stalled. No I/O."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus

MAX_BACKOFF_SECONDS = 3600.0


def backoff_seconds(
    attempt: int, base: float, *, rng: random.Random | None = None, cap: float = MAX_BACKOFF_SECONDS
) -> float:
    """Delay before retry number ``attempt`` (1 = after the first failure): exponential with
    "equal jitter", so retries of many jobs failed together do not come back together."""
    exp = min(cap, base * (2 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return exp / 2 + r * exp / 2


def lease_deadline(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


def lease_expired(job: Job, now: datetime) -> bool:
    return (
        job.status is JobStatus.PROCESSING
        and job.lease_expires_at is not None
        and job.lease_expires_at < now
    )


def is_stalled(job: Job, now: datetime, stall_after: float) -> bool:
    """Processing, its lease still held (the worker is alive), and no progress for a while."""
    if job.status is not JobStatus.PROCESSING or job.last_progress_at is None:
        return False
    if lease_expired(job, now):
        return False  # a lost worker is requeued, not flagged
    return (now - job.last_progress_at).total_seconds() >= stall_after


@dataclass(frozen=True)
class AttemptEnd:
    """What the job becomes once every artifact of an attempt has finished."""

    status: JobStatus  # completed, failed, or pending (an automatic retry)
    error: JobError | None = None
    retry_in: float | None = None  # seconds, for pending


def attempt_end(
    job: Job,
    artifacts: Iterable[Artifact],
    *,
    backoff_base: float,
    rng: random.Random | None = None,
) -> AttemptEnd:
    """Completed when every artifact completed; otherwise the first failed artifact decides:
    a permanent error, or no attempts left, fails the job; a retryable one retries it."""
    failed = [a for a in artifacts if a.status is not JobStatus.COMPLETED]
    if not failed:
        return AttemptEnd(JobStatus.COMPLETED)
    errors = [JobError.from_dict(a.error) if a.error else generic_failure() for a in failed]
    permanent = [e for e in errors if not e.retryable]
    if permanent:
        return AttemptEnd(JobStatus.FAILED, permanent[0])
    if job.attempts >= job.max_attempts:
        last = errors[0]
        return AttemptEnd(
            JobStatus.FAILED,
            JobError(
                last.code,
                last.category,
                False,
                f"{last.message} (gave up after {job.attempts} attempts)",
                last.hint,
            ),
        )
    return AttemptEnd(
        JobStatus.PENDING, errors[0], backoff_seconds(job.attempts, backoff_base, rng=rng)
    )


def generic_failure() -> JobError:
    return JobError(
        "processing_failed",
        ErrorCategory.PROCESSING,
        True,
        "Processing failed. Please try again.",
        "Retry the job; if it fails again, check the worker logs.",
    )


def crashed_stage_error(stage: str, exitcode: int | None) -> JobError:
    """A child process that died without a word: a segfaulting decoder, the OOM killer."""
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return JobError(
        code="stage_crashed",
        category=ErrorCategory.PROCESSING,
        retryable=False,
        message=f"The {stage} stage crashed ({how}) while processing this file.",
        hint="The file is probably damaged or uses a variant the decoder cannot handle: "
        "convert it to a common format (WAV, MP3, PDF, CSV) and upload it again. "
        "If the stage was killed for memory (SIGKILL), give the worker more memory and retry.",
    )


def unexpected_stage_error(stage: str, exc_type: str, text: str) -> JobError:
    """An exception stage code did not turn into a StageError: maybe transient, so retried."""
    category = ErrorCategory.DEPENDENCY if exc_type in _IO_ERRORS else ErrorCategory.INTERNAL
    return JobError(
        code="stage_error",
        category=category,
        retryable=True,
        message=f"The {stage} stage failed: {exc_type}: {text}"[:900],
        hint="It is retried automatically; if every attempt fails, check the worker logs "
        "for this job id.",
    )


_IO_ERRORS = {
    "OSError",
    "IOError",
    "TimeoutError",
    "ConnectionError",
    "PermissionError",
    "FileNotFoundError",
    "BrokenPipeError",
    "MemoryError",
}


# --- progress of a job the worker runs ---------------------------------------------------
# Until stage weights exist: an artifact's progress is the mean over its stages of the
# fraction done, a job's the mean over its artifacts.


def stage_fraction(units: Mapping[str, Any] | None) -> float:
    if not units:
        return 0.0
    if units.get("finished"):
        return 1.0
    total = float(units.get("total") or 0.0)
    done = float(units.get("done") or 0.0)
    if total <= 0:
        return 0.0
    return max(0.0, min(1.0, done / total))


def artifact_progress(
    stage_names: list[str], stage_units: Mapping[str, Mapping[str, Any]]
) -> float:
    if not stage_names:
        return 0.0
    return 100.0 * sum(stage_fraction(stage_units.get(s)) for s in stage_names) / len(stage_names)


def job_progress(artifacts: Iterable[Artifact]) -> float:
    arts = list(artifacts)
    if not arts:
        return 0.0
    return sum(100.0 if a.status is JobStatus.COMPLETED else a.progress for a in arts) / len(arts)


def units_processed(artifacts: Iterable[Artifact], unit: str | None) -> float | None:
    """Work done in the job's unit (audio seconds, pages...), over every stage counted in it."""
    if unit is None:
        return None
    total = 0.0
    seen = False
    for a in artifacts:
        # A unit is counted once per artifact: by the last stage measured in it.
        in_unit = [u for u in a.stage_units.values() if u.get("unit") == unit]
        if in_unit:
            seen = True
            u = in_unit[-1]
            total += (
                float(u.get("total") or 0.0) if u.get("finished") else float(u.get("done") or 0.0)
            )
    return total if seen else None

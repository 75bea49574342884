"""The queue's pure rules: backoff, what a finished attempt means for its job, progress of
a job run by the worker, and when a lease or a silence counts as lost or stalled. No I/O."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.records import Artifact
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


def lease_expired(artifact: Artifact, now: datetime) -> bool:
    return (
        artifact.status is JobStatus.PROCESSING
        and artifact.lease_expires_at is not None
        and artifact.lease_expires_at < now
    )


def is_stalled(artifact: Artifact, now: datetime, stall_after: float) -> bool:
    """Processing, its lease still held (the worker is alive), and no progress for a while."""
    if artifact.status is not JobStatus.PROCESSING or artifact.last_progress_at is None:
        return False
    if lease_expired(artifact, now):
        return False  # a lost worker is requeued, not flagged
    return (now - artifact.last_progress_at).total_seconds() >= stall_after


@dataclass(frozen=True)
class ArtifactEnd:
    """What a file becomes when its attempt failed: failed for good, or pending again."""

    status: JobStatus  # failed, or pending (an automatic retry)
    error: JobError
    retry_in: float | None = None  # seconds, for pending


def artifact_end(
    artifact: Artifact,
    error: JobError,
    *,
    backoff_base: float,
    rng: random.Random | None = None,
) -> ArtifactEnd:
    """A permanent error, or no attempts left, fails the file; a retryable one retries it."""
    if not error.retryable:
        return ArtifactEnd(JobStatus.FAILED, error)
    if artifact.attempts >= artifact.max_attempts:
        return ArtifactEnd(
            JobStatus.FAILED,
            JobError(
                error.code,
                error.category,
                False,
                f"{error.message} (gave up after {artifact.attempts} attempts)",
                error.hint,
            ),
        )
    return ArtifactEnd(
        JobStatus.PENDING, error, backoff_seconds(artifact.attempts, backoff_base, rng=rng)
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


def queue_wait(running_left: Iterable[float], ahead: Iterable[float], slots: int) -> float:
    """Seconds until a slot takes the next file, given the seconds left of each file running
    and the expected seconds of each file queued ahead: each slot takes the next file when it
    frees up. Nothing to wait for while a slot is free and nothing is ahead."""
    slots = max(int(slots), 1)
    busy = sorted(max(0.0, t) for t in running_left)[:slots]
    free_at = [0.0] * (slots - len(busy)) + busy
    heapq.heapify(free_at)
    for seconds in ahead:
        heapq.heappush(free_at, heapq.heappop(free_at) + max(0.0, seconds))
    return free_at[0]


def reset_artifact(a: Artifact) -> Artifact:
    """A file made ready to run again: waiting, nothing done, no worker."""
    return a.evolve(
        status=JobStatus.PENDING,
        current_stage=None,
        progress=0.0,
        stage_units={},
        error=None,
        error_message=None,
        completed_at=None,
        worker_id=None,
        lease_expires_at=None,
        run_after=None,
        stalled=False,
    )

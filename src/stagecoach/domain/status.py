"""The job status machine of design.md: legal transitions, terminal states, who may move them.

pending ──> processing ──> completed ──(retry of a partial outcome)──> pending/processing
   ^  │         │  └─────> failed ──(retry, attempts left)──> pending
   │  │         └────────> cancelled
   │  └──> failed, cancelled (an upload that broke off; a cancel before any worker)
   └── processing, when its worker's lease expires (the worker died)
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING}
    ),
    JobStatus.FAILED: frozenset({JobStatus.PENDING}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

ACTIVE = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})


class IllegalTransition(Exception):
    """A status change the machine does not allow; the API answers 409 with this text."""

    def __init__(self, current: JobStatus, wanted: JobStatus, reason: str | None = None) -> None:
        self.current = current
        self.wanted = wanted
        self.allowed = sorted(ALLOWED[current])
        allowed = ", ".join(self.allowed) or "none (the job has ended)"
        text = reason or f"cannot go from '{current}' to '{wanted}'"
        super().__init__(f"{text}; job is '{current}', allowed next: {allowed}")


def can_transition(current: JobStatus, wanted: JobStatus) -> bool:
    return wanted in ALLOWED[current]


def check_transition(current: JobStatus, wanted: JobStatus) -> None:
    if not can_transition(current, wanted):
        raise IllegalTransition(current, wanted)


def is_terminal(
    status: JobStatus, *, attempts: int = 0, max_attempts: int = 1, retryable: bool = False
) -> bool:
    """completed and cancelled always end a job; failed ends it unless a retry is left."""
    if status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        return True
    if status is JobStatus.FAILED:
        return not (retryable and attempts < max_attempts)
    return False


def can_retry(
    status: JobStatus, attempts: int, max_attempts: int, outcome: str | None = None
) -> tuple[bool, str]:
    """Whether a user may retry now, and why not when they may not. A job completed in part
    (outcome "partial") may be retried too: its failed files run again."""
    if status is not JobStatus.FAILED and not (
        status is JobStatus.COMPLETED and outcome == "partial"
    ):
        return False, f"only failed or partly completed jobs can be retried; job is '{status}'"
    if attempts >= max_attempts:
        return False, f"job has used all {max_attempts} attempts"
    return True, ""

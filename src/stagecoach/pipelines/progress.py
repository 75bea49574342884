"""Progress bookkeeping shared by stage functions.

Stage code counts units as it goes; this keeps the reported figure monotonic, grows the
total when the estimate was short, checks for cancellation, and keeps calls to the
reporter to a sensible rate (the worker coalesces too, but a call per audio frame is waste).
"""

from __future__ import annotations

import time

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.base import Reporter

# Report at least every this many seconds, or every 1/STEPS of the total, whichever is first.
REPORT_EVERY_SECONDS = 0.5
STEPS = 200


def cancelled_error() -> StageError:
    return StageError(
        "cancelled",
        "Processing was cancelled.",
        hint="Start a new job to process the file again.",
        category=ErrorCategory.CANCELLED,
    )


class StageProgress:
    """Counts one stage's units and reports them through a ``Reporter``."""

    def __init__(self, reporter: Reporter, total: float, message: str | None = None) -> None:
        self.reporter = reporter
        self.total = max(float(total), 0.0)
        self.done = 0.0
        self.message = message
        self._reported = -1.0
        self._reported_at = 0.0

    def set_total(self, total: float) -> None:
        """The real total, once known (the estimate came from a probe or media facts)."""
        if total != self.total:
            self.total = float(total)
            self.reporter.set_total(self.total)

    def advance(self, units: float, message: str | None = None) -> None:
        self.update(self.done + units, message)

    def update(self, done: float, message: str | None = None) -> None:
        """Set the units done so far; never goes backwards. Raises when cancelled."""
        self.done = max(self.done, float(done))
        if message is not None:
            self.message = message
        now = time.monotonic()
        step = self.total / STEPS if self.total else 1.0
        if self.done - self._reported >= step or now - self._reported_at >= REPORT_EVERY_SECONDS:
            self._report(now)

    def flush(self) -> None:
        """Report now what is done (before a checkpoint that covers it)."""
        if self.done != self._reported:
            self._report(time.monotonic())

    def finish(self, message: str | None = None) -> None:
        """The stage did all its work: the total becomes exactly what was done."""
        if message is not None:
            self.message = message
        if self.done != self.total:
            self.total = self.done
            self.reporter.set_total(self.total)
        self._report(time.monotonic())

    def _report(self, now: float) -> None:
        if self.done > self.total:
            # The estimate was short: grow it a little ahead so the bar does not sit at 100 %.
            self.total = self.done * 1.05
            self.reporter.set_total(self.total)
        self.reporter.progress(self.done, self.message)
        self._reported, self._reported_at = self.done, now
        if self.reporter.should_abort():
            raise cancelled_error()

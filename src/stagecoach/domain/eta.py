"""Time left and estimated completion of a job, by one of three estimators (settings:
``eta_estimator``):

- ``learned``: stagecoach's own (see ``eta_learned``), plus the queue, a range, smoothing;
- ``seed``: the seed formula, progress = 70 % actual + 30 % elapsed / (4 x duration), kept
  for comparison;
- ``rate``: done / elapsed extrapolated, as progress bars do.

Pure: the caller passes ``now``, the job's plan, the learned rates and what it showed last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from stagecoach.domain.eta_learned import remaining
from stagecoach.domain.progress import (
    UNFINISHED_CAP,
    JobPlan,
    job_progress,
)
from stagecoach.domain.rates import RateBook, prior

EstimatorName = Literal["learned", "seed", "rate"]
ESTIMATORS: tuple[EstimatorName, ...] = ("learned", "seed", "rate")

Z_80 = 1.2816  # normal quantile: low..high holds ~80 % of outcomes
SMOOTH_FRACTION = 0.05  # the shown finish follows a change over ~5 % of the time left ...
SMOOTH_MIN_SECONDS = 0.1  # (2 s held the finish of a sub-second job at its first guess)
SMOOTH_MAX_SECONDS = 120.0  # ... but a real slowdown shows within a few minutes
# Smoothing is for noise. When the estimate before (the middle of the range shown) and the
# new one are both off the finish shown, on the same side, by more than this share of the
# time left, the pace contradicts what is shown: that is no noise, and the new estimate is
# shown at once. Without it, a first run calibrated at 0.34x that went at 1x crept up by a
# few percent a report and sat minutes below its pace (the range shown was wide enough to
# hold both).
CONTRADICTION_FRACTION = 0.03
SEED_ACTUAL_WEIGHT = 0.7


@dataclass(frozen=True)
class QueueState:
    """Where a pending job stands: ``position`` 1 starts next.

    ``work_ahead_seconds``: expected seconds left of every job running or queued ahead of
    this one (the sum of their own estimates); ``slots``: jobs the workers run at once, in
    all (workers x concurrency); ``jobs_ahead``: how many jobs that work belongs to. The wait
    is the work ahead shared by the slots, or nothing while a slot is free.
    """

    position: int
    work_ahead_seconds: float
    slots: int = 1
    work_ahead_low: float | None = None
    work_ahead_high: float | None = None
    jobs_ahead: int | None = None

    @classmethod
    def from_estimates(cls, position: int, slots: int, ahead: Iterable[Estimate]) -> QueueState:
        """From the estimates of the jobs running and queued ahead of this one."""
        ahead = list(ahead)

        def total(pick: Callable[[Estimate], float | None]) -> float:
            return sum(v if (v := pick(e)) is not None else e.eta_seconds or 0.0 for e in ahead)

        return cls(
            position=position,
            work_ahead_seconds=total(lambda e: e.eta_seconds),
            slots=slots,
            work_ahead_low=total(lambda e: e.eta_low),
            work_ahead_high=total(lambda e: e.eta_high),
            jobs_ahead=len(ahead),
        )

    def per_slot(self, seconds: float | None) -> float:
        if self.jobs_ahead is not None and self.jobs_ahead < self.slots:
            return 0.0
        base = self.work_ahead_seconds if seconds is None else seconds
        return max(base, 0.0) / max(self.slots, 1)

    @property
    def wait_seconds(self) -> float:
        return self.per_slot(self.work_ahead_seconds)


@dataclass(frozen=True)
class Shown:
    """The estimated completion last shown for this job, and when: smoothing starts there.

    ``low``/``high``: the range shown with it, as times. A new estimate outside it means the
    one shown was wrong, not noisy, and replaces it at once.
    """

    estimated_completion: datetime
    at: datetime
    low: datetime | None = None
    high: datetime | None = None


@dataclass(frozen=True)
class Estimate:
    """What the status contract shows. Seconds are from ``now``; progress is in percent.

    ``eta_low``/``eta_high`` bound the time left with ~80 % confidence (learned only).
    """

    eta_seconds: float | None
    estimated_completion: datetime | None
    eta_low: float | None
    eta_high: float | None
    progress: float
    estimator: EstimatorName = "learned"
    queue_position: int | None = None
    wait_seconds: float | None = None

    def shown(self, now: datetime) -> Shown | None:
        """What to store so the next estimate can be smoothed from this one."""
        if self.estimated_completion is None:
            return None
        return Shown(
            self.estimated_completion, now, _at(now, self.eta_low), _at(now, self.eta_high)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "eta_seconds": self.eta_seconds,
            "estimated_completion": _iso(self.estimated_completion),
            "eta_low": self.eta_low,
            "eta_high": self.eta_high,
            "progress": self.progress,
            "estimator": self.estimator,
            "queue_position": self.queue_position,
            "wait_seconds": self.wait_seconds,
        }


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.isoformat().replace("+00:00", "Z")


# Time left is shown up to a century: past it the figure means "never", and a date beyond
# year 9999 cannot be represented (a job reporting duration_total 1e12 asked for one).
MAX_ETA_SECONDS = 100 * 365.25 * 86400


def bounded(seconds: float) -> float:
    """``seconds`` within [0, MAX_ETA_SECONDS]; infinite or undefined counts as the cap."""
    if not math.isfinite(seconds) or seconds > MAX_ETA_SECONDS:
        return MAX_ETA_SECONDS
    return max(seconds, 0.0)


def _at(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=bounded(seconds))


def _job_started_at(job: JobPlan) -> datetime | None:
    starts = [s.started_at for a in job.artifacts for s in a.stages if s.started_at is not None]
    return min(starts) if starts else None


def _elapsed(job: JobPlan, now: datetime) -> float:
    start = _job_started_at(job)
    return max((now - start).total_seconds(), 0.0) if start is not None else 0.0


def _done(
    job: JobPlan, now: datetime, rates: RateBook, prior_factor: float, estimator: EstimatorName
) -> Estimate:
    # job_progress says 100 unless every artifact ended (failed): then where it stopped.
    return Estimate(0.0, now, 0.0, 0.0, job_progress(job, rates, prior_factor), estimator)


# --- learned --------------------------------------------------------------------------


def smooth(raw: datetime, previous: Shown | None, now: datetime) -> datetime:
    """Move the shown finish toward the raw one, exponentially in time.

    Smoothing the finish (not the time left) keeps a steady countdown steady. The time
    constant scales with the time left, so short jobs follow at once and long ones do not
    twitch; it is capped so a real slowdown shows within minutes.
    """
    if previous is None:
        return raw
    if previous.estimated_completion <= now:
        # The finish shown before has passed: that promise is broken. Smoothing toward the
        # new estimate from there would show "done" while work remains; show it as it is.
        return raw
    if (previous.low is not None and raw < previous.low) or (
        previous.high is not None and raw > previous.high
    ):
        # Outside the range shown: new knowledge (a stage ended, the upload's facts came in,
        # the run is far off its history), not noise. Show it now rather than drift to it.
        return raw
    left = max((raw - now).total_seconds(), 0.0)
    if _contradicted(raw, previous, left):
        return raw
    dt = (now - previous.at).total_seconds()
    if dt <= 0:
        return max(previous.estimated_completion, now)
    tau = min(max(SMOOTH_FRACTION * left, SMOOTH_MIN_SECONDS), SMOOTH_MAX_SECONDS)
    k = 1.0 - math.exp(-dt / tau)
    shown = previous.estimated_completion + (raw - previous.estimated_completion) * k
    return max(shown, now)


def _middle(previous: Shown) -> datetime | None:
    """The estimate made with ``previous`` before smoothing: the middle of its range (the
    range is log-normal around it, and is not smoothed)."""
    if previous.low is None or previous.high is None:
        return None
    low = (previous.low - previous.at).total_seconds()
    high = (previous.high - previous.at).total_seconds()
    if low <= 0 or high <= 0:
        return None
    return previous.at + timedelta(seconds=math.sqrt(low * high))


def _contradicted(raw: datetime, previous: Shown, left: float) -> bool:
    """Whether two estimates in a row say the finish shown is off, the same way."""
    before = _middle(previous)
    if before is None:
        return False
    margin = CONTRADICTION_FRACTION * left
    shown = previous.estimated_completion
    now_off = (raw - shown).total_seconds()
    before_off = (before - shown).total_seconds()
    return abs(now_off) > margin and abs(before_off) > margin and now_off * before_off > 0


def _learned(
    job: JobPlan,
    rates: RateBook,
    now: datetime,
    prior_factor: float,
    queue: QueueState | None,
    previous: Shown | None,
    z: float,
) -> Estimate:
    left = remaining(job, rates, now, prior_factor=prior_factor, z=z)
    eta, low, high = left.seconds, left.low, left.high
    position = wait = None
    if queue is not None and not job.started:
        position, wait = queue.position, queue.wait_seconds
        eta += wait
        low += queue.per_slot(queue.work_ahead_low)
        high += queue.per_slot(queue.work_ahead_high)
    eta, low, high = bounded(eta), bounded(low), bounded(high)
    completion = smooth(now + timedelta(seconds=eta), previous, now)
    eta = (completion - now).total_seconds()
    return Estimate(
        eta_seconds=eta,
        estimated_completion=completion,
        eta_low=min(low, eta),
        eta_high=max(high, eta),
        progress=job_progress(job, rates, prior_factor),
        estimator="learned",
        queue_position=position,
        wait_seconds=wait,
    )


# --- seed and rate, for comparison ----------------------------------------------------


def seed_expected_seconds(job: JobPlan, prior_factor: float) -> float:
    """The seed's expected time: prior seconds per unit x units (4 x duration for audio)."""
    return sum(
        max(s.units_total, 0.0) * prior(a.pipeline, s.name, s.unit, prior_factor).spu
        for a in job.artifacts
        if not a.ended
        for s in a.stages
    )


def _seed(job: JobPlan, now: datetime, prior_factor: float) -> Estimate:
    # The seed knows no history: actual progress is weighed with the priors alone.
    actual = job_progress(job, {}, prior_factor)
    expected = seed_expected_seconds(job, prior_factor)
    elapsed = _elapsed(job, now)
    by_time = 100.0 * min(elapsed / expected, 1.0) if expected > 0 else 0.0
    shown = SEED_ACTUAL_WEIGHT * actual + (1 - SEED_ACTUAL_WEIGHT) * by_time
    shown = min(shown, UNFINISHED_CAP)
    # Time left consistent with the bar: the pace so far, carried to 100 %.
    eta = bounded(elapsed * (100.0 - shown) / shown if shown > 0 and elapsed > 0 else expected)
    return Estimate(eta, _at(now, eta), None, None, shown, "seed")


def _rate(job: JobPlan, rates: RateBook, now: datetime, prior_factor: float) -> Estimate:
    progress = job_progress(job, rates, prior_factor)
    elapsed = _elapsed(job, now)
    eta = bounded(elapsed * (100.0 - progress) / progress) if progress > 0 and elapsed > 0 else None
    return Estimate(eta, _at(now, eta), None, None, progress, "rate")


def estimate(
    job: JobPlan,
    *,
    now: datetime,
    rates: RateBook | None = None,
    estimator: EstimatorName = "learned",
    prior_factor: float = 4.0,
    queue: QueueState | None = None,
    previous: Shown | None = None,
    z: float = Z_80,
) -> Estimate:
    """The estimate for a job now.

    ``rates``: learned rates by ``RateKey`` (missing keys fall back to the prior);
    ``queue``: for a job not started yet; ``previous``: the last shown estimate (learned
    estimator only, for smoothing). A finished job has nothing left.
    """
    rates = rates or {}
    if job.finished:
        return _done(job, now, rates, prior_factor, estimator)
    if estimator == "seed":
        return _seed(job, now, prior_factor)
    if estimator == "rate":
        return _rate(job, rates, now, prior_factor)
    if estimator == "learned":
        return _learned(job, rates, now, prior_factor, queue, previous, z)
    raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")


def with_progress(e: Estimate, progress: float) -> Estimate:
    """The same estimate with the progress actually shown (after ``monotonic``)."""
    return replace(e, progress=progress)

"""Estimates from a calibrated start: the seeded rate, the first estimate against a known
truth, a pace that contradicts it, and the confidence the status document states."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.contract import eta_confidence
from stagecoach.domain.eta import Estimate, Shown, estimate
from stagecoach.domain.progress import ArtifactPlan, JobPlan, StagePlan
from stagecoach.domain.rates import (
    CALIBRATION_SD,
    RateKey,
    calibrated,
    prior,
    update,
)
from stagecoach.domain.records import Job
from stagecoach.domain.status import JobStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEY = RateKey("audio", "Transcribing", "pocketsphinx")
TRUE_SPU = 0.34  # this machine: 0.34 s of work per audio second
STARTUP = 1.5


def measured_rate(spu: float = TRUE_SPU, fingerprint: str = "pocketsphinx"):
    """A calibration of 6 s of audio at ``spu``, with its start-up."""
    base = prior("audio", "Transcribing", "audio_seconds", 4.0)
    return calibrated(
        base, 6.0, STARTUP + 6.0 * spu, fingerprint=fingerprint, startup_seconds=STARTUP
    )


def plan(units: float, done: float = 0.0, elapsed: float | None = None) -> JobPlan:
    started = T0 if elapsed is not None else None
    progress_at = T0 + timedelta(seconds=elapsed) if elapsed is not None and done else None
    stage = StagePlan(
        "Transcribing", "audio_seconds", units, done, started_at=started, progress_at=progress_at
    )
    return JobPlan((ArtifactPlan("audio", (stage,), engine="pocketsphinx"),))


def test_a_calibrated_rate_is_a_measured_prior():
    rate = measured_rate()
    assert rate.n == 0  # still a prior: the first real run replaces it
    assert rate.calibration == "pocketsphinx"
    assert rate.spu == pytest.approx(TRUE_SPU, rel=0.01)
    assert rate.startup_seconds == pytest.approx(STARTUP)
    assert rate.sd_log_spu == pytest.approx(CALIBRATION_SD)
    # Round trip through the stored form keeps what it was measured with.
    assert type(rate).from_dict(rate.to_dict()) == rate
    real = update(rate, 240.0, STARTUP + 240 * 0.5, startup_seconds=STARTUP)
    assert real.n == 1 and real.calibration is None
    assert real.spu == pytest.approx(0.5, rel=0.01)


def test_the_first_estimate_is_within_2x_of_the_truth_with_calibration_not_without():
    truth = STARTUP + 240 * TRUE_SPU * 1.4  # a real recording runs 40 % slower than the sample
    rates = {KEY: measured_rate()}
    first = estimate(plan(240.0), now=T0, rates=rates)
    assert first.eta_seconds is not None
    assert truth / 2 <= first.eta_seconds <= truth * 2
    assert first.eta_low is not None and first.eta_high is not None
    assert first.eta_low <= truth <= first.eta_high  # and its range holds it
    guessed = estimate(plan(240.0), now=T0, rates={})
    assert guessed.eta_seconds is not None and guessed.eta_seconds > truth * 5  # the 4x prior


def run_reports(spu_real: float, units: float, every: float, reports: int, rates) -> list[Estimate]:
    """Estimates at each progress report of a run at ``spu_real``, smoothed as shown."""
    out: list[Estimate] = []
    shown: Shown | None = None
    startup = STARTUP
    for k in range(1, reports + 1):
        now = T0 + timedelta(seconds=startup + k * every)
        done = min(units, k * every / spu_real)
        stage = StagePlan(
            "Transcribing",
            "audio_seconds",
            units,
            done,
            started_at=T0,
            progress_at=now,
        )
        job = JobPlan((ArtifactPlan("audio", (stage,), engine="pocketsphinx"),))
        est = estimate(job, now=now, rates=rates, previous=shown)
        shown = est.shown(now)
        out.append(est)
    return out


@pytest.mark.parametrize("every", [1.0, 5.0])
@pytest.mark.parametrize("slower", [3.0, 1 / 3.0])
def test_a_contradicting_pace_moves_the_estimate_within_a_few_reports(slower, every):
    """Calibrated at 0.34x, the run goes three times slower (or faster). Within half a
    minute of a run of minutes the estimate follows the pace, not the calibration, and it
    keeps following: it does not sit below the pace while the reports say otherwise."""
    units = 1800.0  # 30 minutes of audio
    real_spu = TRUE_SPU * slower
    reports = int(90 / every)
    ests = run_reports(real_spu, units, every, reports, {KEY: measured_rate()})
    errors = []
    for k, est in enumerate(ests, 1):
        left = units * real_spu - k * every
        assert est.eta_seconds is not None
        errors.append((k * every, abs(est.eta_seconds - left) / left))
    assert all(e < 0.15 for t, e in errors if t >= 30), errors
    assert all(e < 0.10 for t, e in errors if t >= 60), errors
    # Where it started, before the first report: the calibrated figure, far off this run.
    before = estimate(plan(units, 0.0, 0.0), now=T0, rates={KEY: measured_rate()})
    assert before.eta_seconds is not None
    truth = STARTUP + units * real_spu
    assert abs(before.eta_seconds - truth) / truth > 0.5


def job(**kw) -> Job:
    base = dict(
        job_id="j",
        owner_id="u",
        status=JobStatus.PROCESSING,
        created_at=T0,
        updated_at=T0,
        started_at=T0,
        last_progress_at=T0,
        pipeline="audio",
    )
    base.update(kw)
    return Job(**base)


def with_range(est: Estimate, at: datetime, **kw) -> Job:
    assert est.eta_low is not None and est.eta_high is not None
    return job(
        updated_at=at,
        estimated_completion=est.estimated_completion,
        eta_low=at + timedelta(seconds=est.eta_low),
        eta_high=at + timedelta(seconds=est.eta_high),
        **kw,
    )


def test_confidence_is_estimating_on_a_guess_rough_when_calibrated_good_with_evidence():
    pending = dict(status=JobStatus.PENDING, started_at=None)
    guess = estimate(plan(240.0), now=T0, rates={})
    assert eta_confidence(with_range(guess, T0, **pending), guess.eta_seconds, T0) == "estimating"
    measured = estimate(plan(240.0), now=T0, rates={KEY: measured_rate()})
    j = with_range(measured, T0, **pending)
    assert eta_confidence(j, measured.eta_seconds, T0) == "rough"
    # Half way through a run at the calibrated pace: the range is narrow against the job.
    half = T0 + timedelta(seconds=STARTUP + 120 * TRUE_SPU)
    running = estimate(
        plan(240.0, 120.0, (half - T0).total_seconds()), now=half, rates={KEY: measured_rate()}
    )
    j = with_range(running, half)
    assert eta_confidence(j, running.eta_seconds, half) == "good"


def test_confidence_near_the_end_of_a_long_job_is_good_not_estimating():
    """Ten seconds left of an hour, give or take five: the finish is well known, although
    the range is wide against the time left."""
    at = T0 + timedelta(hours=1)
    j = job(
        updated_at=at,
        estimated_completion=at + timedelta(seconds=10),
        eta_low=at + timedelta(seconds=5),
        eta_high=at + timedelta(seconds=20),
    )
    assert eta_confidence(j, 10.0, at) == "good"


def test_confidence_says_when_the_estimate_has_failed():
    at = T0 + timedelta(minutes=10)
    j = job(
        updated_at=at,
        estimated_completion=at + timedelta(seconds=60),
        eta_low=at + timedelta(seconds=50),
        eta_high=at + timedelta(seconds=70),
    )
    assert eta_confidence(j, 60.0, at) == "good"
    past_finish = at + timedelta(seconds=65)  # past the finish shown, inside the range
    assert eta_confidence(j, 0.0, past_finish) == "rough"
    past_range = at + timedelta(seconds=80)  # still running after the latest finish allowed
    assert eta_confidence(j, 0.0, past_range) == "estimating"
    assert eta_confidence(j, 60.0, at, stalled=True) == "estimating"
    assert eta_confidence(job(status=JobStatus.COMPLETED), None, at) is None
    assert eta_confidence(job(), None, at) == "estimating"  # no estimate at all


def test_spread_thresholds_match_the_spreads_of_the_priors():
    """A guessed prior (sd 1.5) is "estimating", a calibrated one (sd 0.5) "rough", one
    finished run (sd 0.3) "rough", a stage known to 10 % "good": 2 sinh(z sd) of the job."""
    from stagecoach.domain.contract import ESTIMATING_SPREAD, ROUGH_SPREAD

    def spread(sd: float) -> float:
        return 2 * math.sinh(1.2816 * sd)

    assert spread(1.5) > ESTIMATING_SPREAD
    assert ROUGH_SPREAD < spread(CALIBRATION_SD) < ESTIMATING_SPREAD
    assert ROUGH_SPREAD < spread(0.3) < ESTIMATING_SPREAD
    assert spread(0.1) < ROUGH_SPREAD

"""Seed 001 (US005), Specification by Example, Example 1, with a controlled clock.

Given a 60-minute audio file starts processing and the estimated completion is "4 hours"
(the 4x prior, no history), when I check status after 30 minutes (and the run went exactly
as the prior predicts: 30 of 240 minutes, so 12.5 % of the audio is done), then progress is
about 12-15 %, about 3.5 hours are left, and the message is "Processing audio...".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.eta import ESTIMATORS, EstimatorName, estimate
from stagecoach.domain.progress import ArtifactPlan, JobPlan, StagePlan
from stagecoach.domain.progress_text import eta_text, status_message

START = datetime(2025, 1, 9, 10, 0, tzinfo=UTC)
HOUR = 3600.0


def coach_recording(minutes_in: float) -> JobPlan:
    duration = 60 * 60.0
    transcribed = duration * (minutes_in / 240)  # exactly the 4x prior's pace
    stage = StagePlan(
        "Transcribing",
        "audio_seconds",
        units_total=duration,
        units_done=transcribed,
        started_at=START if minutes_in > 0 else None,
        progress_at=START + timedelta(minutes=minutes_in) if minutes_in > 0 else None,
    )
    return JobPlan((ArtifactPlan("audio", (stage,)),))


def test_at_the_start_the_estimate_is_4_hours() -> None:
    e = estimate(coach_recording(0), now=START, rates={}, prior_factor=4.0)
    assert e.progress == 0
    assert e.eta_seconds == pytest.approx(4 * HOUR, rel=0.01)
    assert eta_text(e.eta_seconds, e.progress) == "~4 hours left"


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_after_30_minutes_12_to_15_percent_and_3_5_hours_left(estimator: EstimatorName) -> None:
    now = START + timedelta(minutes=30)
    e = estimate(coach_recording(30), now=now, rates={}, estimator=estimator, prior_factor=4.0)
    assert 12 <= e.progress <= 15
    assert e.eta_seconds is not None
    assert e.eta_seconds == pytest.approx(3.5 * HOUR, rel=0.03)
    assert e.estimated_completion == now + timedelta(seconds=e.eta_seconds)
    assert eta_text(e.eta_seconds, e.progress) == "~3.5 hours left"
    message = status_message("processing", file_type="audio", progress=e.progress)
    assert message == "Processing audio..."


def test_half_an_hour_of_observed_work_narrows_the_priors_range() -> None:
    at_start = estimate(coach_recording(0), now=START, rates={})
    assert at_start.eta_low is not None and at_start.eta_high is not None
    assert at_start.eta_low < 1 * HOUR and at_start.eta_high > 15 * HOUR  # a prior knows little

    now = START + timedelta(minutes=30)
    e = estimate(coach_recording(30), now=now, rates={})
    assert e.eta_low is not None and e.eta_high is not None
    assert 2.5 * HOUR < e.eta_low < 3.5 * HOUR < e.eta_high < 5 * HOUR

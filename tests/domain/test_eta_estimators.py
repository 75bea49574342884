"""The seed formula and plain rate, kept for comparison, and the estimator switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.eta import estimate, seed_expected_seconds
from stagecoach.domain.progress import ArtifactPlan, JobPlan, StagePlan

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def transcription(units: float, done: float, elapsed: float) -> JobPlan:
    stage = StagePlan(
        "Transcribing",
        "audio_seconds",
        units,
        done,
        started_at=T0,
        progress_at=T0 + timedelta(seconds=elapsed),
    )
    return JobPlan((ArtifactPlan("audio", (stage,)),))


def test_seed_expects_4x_the_duration() -> None:
    assert seed_expected_seconds(transcription(3600, 0, 0), 4.0) == pytest.approx(4 * 3600)


def test_seed_progress_is_70_percent_actual_and_30_percent_elapsed() -> None:
    # 60 minutes of audio; 20 minutes in, 25 % done (faster than the prior).
    job = transcription(3600, 900, 1200)
    e = estimate(job, now=T0 + timedelta(seconds=1200), estimator="seed")
    assert e.progress == pytest.approx(0.7 * 25 + 0.3 * 100 * 1200 / (4 * 3600))
    # time left carries the pace of the bar to 100 %
    assert e.eta_seconds == pytest.approx(1200 * (100 - e.progress) / e.progress)
    assert (e.eta_low, e.eta_high) == (None, None)


def test_seed_formula_weakness_it_never_converges_on_a_fast_machine() -> None:
    # Recognition at 0.2x real time: 60 minutes of audio take 12 minutes.
    units, spu = 3600.0, 0.2
    t = 0.9 * units * spu  # 90 % done, 72 s of real work left
    e = estimate(
        transcription(units, 0.9 * units, t), now=T0 + timedelta(seconds=t), estimator="seed"
    )
    truth = 0.1 * units * spu
    assert e.progress < 70  # the bar lags far behind the 90 % really done
    assert e.eta_seconds is not None and e.eta_seconds > 4 * truth  # 6 minutes for 72 s


def test_seed_progress_never_passes_99_before_the_end() -> None:
    # A slow run: elapsed is twice the 4x expectation.
    e = estimate(transcription(60, 59, 480), now=T0 + timedelta(seconds=480), estimator="seed")
    assert e.progress <= 99.0


def test_rate_extrapolates_done_over_elapsed() -> None:
    e = estimate(transcription(1000, 250, 100), now=T0 + timedelta(seconds=100), estimator="rate")
    assert e.progress == pytest.approx(25, rel=0.01)
    assert e.eta_seconds == pytest.approx(100 * 75 / e.progress)


def test_rate_has_no_estimate_before_any_progress() -> None:
    e = estimate(transcription(1000, 0, 10), now=T0 + timedelta(seconds=10), estimator="rate")
    assert e.eta_seconds is None and e.estimated_completion is None


def test_unknown_estimator_is_refused() -> None:
    with pytest.raises(ValueError, match="learned, seed, rate"):
        estimate(transcription(10, 0, 0), now=T0, estimator="magic")  # type: ignore[arg-type]


def test_estimate_serialises_for_the_status_contract() -> None:
    e = estimate(transcription(600, 300, 62), now=T0 + timedelta(seconds=62))
    d = e.to_dict()
    assert d["estimated_completion"].endswith("Z")
    assert set(d) >= {"eta_seconds", "estimated_completion", "eta_low", "eta_high", "progress"}

"""The learned estimator: learning, adjusting during a run, later stages, queue, smoothing.

The clock is a parameter: every test says what ``now`` is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.eta import QueueState, Shown, estimate, smooth
from stagecoach.domain.progress import (
    JOB_FINISH,
    JOB_START,
    JOB_UNIT,
    ArtifactPlan,
    JobPlan,
    StagePlan,
)
from stagecoach.domain.rates import RateKey, StageRate, lookup, update

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def transcription(units: float, done: float = 0.0, elapsed: float | None = None) -> JobPlan:
    stage = StagePlan(
        "Transcribing",
        "audio_seconds",
        units,
        done,
        started_at=T0 if elapsed is not None else None,
        progress_at=at(elapsed) if elapsed is not None else None,
    )
    return JobPlan((ArtifactPlan("audio", (stage,)),))


def learned_from(spu: float, runs: int = 5, units: float = 600.0) -> dict[RateKey, StageRate]:
    rate = lookup({}, "audio", "Transcribing", "", "audio_seconds")
    for i in range(runs):
        u = units * (1 + 0.3 * i)
        rate = update(rate, u, rate.startup_seconds + u * spu)
    return {RateKey("audio", "Transcribing"): rate}


def test_five_runs_at_a_fifth_of_real_time_predict_the_next_within_10_percent() -> None:
    rates = learned_from(0.2, runs=5)
    e = estimate(transcription(1200), now=T0, rates=rates)
    truth = 2.0 + 1200 * 0.2
    assert e.eta_seconds == pytest.approx(truth, rel=0.10)
    assert e.eta_low is not None and e.eta_high is not None
    assert e.eta_low <= truth <= e.eta_high


def test_without_history_the_prior_overestimates_but_the_run_corrects_it() -> None:
    # 0.2x real time against the 4x prior; 10 % of the audio is done after 12.4 s.
    units, spu = 600.0, 0.2
    before = estimate(transcription(units), now=T0, rates={})
    assert before.eta_seconds is not None and before.eta_seconds > 2000
    t = 2 + 0.1 * units * spu
    e = estimate(transcription(units, 0.1 * units, elapsed=t), now=at(t), rates={})
    truth = 0.9 * units * spu
    assert e.eta_seconds == pytest.approx(truth, rel=0.25)


def test_a_run_slower_than_its_history_adjusts_during_the_run() -> None:
    rates = learned_from(0.2)
    units = 1200.0
    history_says = estimate(transcription(units), now=T0, rates=rates).eta_seconds
    assert history_says is not None
    # This run goes at 0.4 s per audio second (the machine is busy). Check at 25 %.
    t = 2 + 0.25 * units * 0.4
    e = estimate(transcription(units, 0.25 * units, elapsed=t), now=at(t), rates=rates)
    truth = 0.75 * units * 0.4
    assert e.eta_seconds is not None
    assert abs(e.eta_seconds - truth) < 0.15 * truth
    assert abs(e.eta_seconds - truth) < abs(history_says - t - truth) / 3


def two_stage(decoding: StagePlan, transcribing: StagePlan) -> JobPlan:
    return JobPlan((ArtifactPlan("audio", (decoding, transcribing)),))


TWO_STAGE_RATES = {
    RateKey("audio", "Decoding"): StageRate(10, math.log(0.01), 0.02),
    RateKey("audio", "Transcribing"): StageRate(10, math.log(0.2), 0.02),
}


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0])
def test_later_stages_scale_by_how_this_run_did_so_far(speed: float) -> None:
    units = 1000.0
    decoding = StagePlan(
        "Decoding",
        "audio_seconds",
        units,
        units,
        finished=True,
        started_at=T0,
        seconds=units * 0.01 * speed,
    )
    transcribing = StagePlan("Transcribing", "audio_seconds", units)
    now = at(units * 0.01 * speed)
    e = estimate(two_stage(decoding, transcribing), now=now, rates=TWO_STAGE_RATES)
    assert e.eta_seconds is not None
    scaled = e.eta_seconds / (units * 0.2)
    # Shrunk toward history (stages share only part of their variation) but clearly moved.
    if speed == 1.0:
        assert scaled == pytest.approx(1.0, abs=0.01)
    else:
        assert min(1.0, speed) < scaled < max(1.0, speed)
        assert abs(math.log(scaled)) > 0.3 * abs(math.log(speed))


def test_a_pending_job_waits_for_the_work_ahead_over_the_workers() -> None:
    rates = learned_from(0.2)
    alone = estimate(transcription(600), now=T0, rates=rates)
    queue = QueueState(position=3, work_ahead_seconds=1200.0, slots=2)
    e = estimate(transcription(600), now=T0, rates=rates, queue=queue)
    assert alone.eta_seconds is not None and e.eta_seconds is not None
    assert e.eta_seconds == pytest.approx(alone.eta_seconds + 600.0)
    assert (e.queue_position, e.wait_seconds) == (3, 600.0)
    assert e.eta_low is not None and e.eta_high is not None
    assert e.eta_low <= e.eta_seconds <= e.eta_high


def test_queue_is_built_from_the_estimates_of_the_jobs_ahead() -> None:
    rates = learned_from(0.2)
    ahead = [estimate(transcription(u), now=T0, rates=rates) for u in (300, 600, 900)]
    q = QueueState.from_estimates(position=4, slots=3, ahead=ahead)
    assert q.work_ahead_seconds == pytest.approx(sum(e.eta_seconds or 0 for e in ahead))
    assert q.wait_seconds == pytest.approx(q.work_ahead_seconds / 3)
    assert q.work_ahead_low is not None and q.work_ahead_low < q.work_ahead_seconds


def test_a_started_job_ignores_the_queue() -> None:
    rates = learned_from(0.2)
    plan = transcription(600, 300, elapsed=62)
    e = estimate(plan, now=at(62), rates=rates, queue=QueueState(2, 5000.0, 1))
    assert e.queue_position is None
    assert e.eta_seconds is not None and e.eta_seconds < 100


def test_time_left_counts_down_between_progress_reports() -> None:
    rates = learned_from(0.2)
    plan = transcription(1000, 500, elapsed=102)
    first = estimate(plan, now=at(102), rates=rates).eta_seconds
    later = estimate(plan, now=at(107), rates=rates).eta_seconds
    assert first is not None and later is not None
    assert later == pytest.approx(first - 5)


def test_an_overdue_stage_never_shows_zero_or_negative_time() -> None:
    rates = learned_from(0.2)
    plan = transcription(1000, 500, elapsed=102)  # then silence for ten minutes
    e = estimate(plan, now=at(702), rates=rates)
    assert e.eta_seconds is not None and e.eta_seconds > 0


def test_artifacts_run_one_after_another_unless_told_otherwise() -> None:
    rates = learned_from(0.2)
    one = transcription(600).artifacts[0]
    serial = estimate(JobPlan((one, one)), now=T0, rates=rates).eta_seconds
    side = estimate(JobPlan((one, one), concurrent_artifacts=2), now=T0, rates=rates).eta_seconds
    single = estimate(JobPlan((one,)), now=T0, rates=rates).eta_seconds
    assert serial == pytest.approx(2 * single)  # type: ignore[operator]
    assert side == pytest.approx(single)


def test_failed_artifacts_add_no_time() -> None:
    rates = learned_from(0.2)
    one = transcription(600).artifacts[0]
    failed = ArtifactPlan("audio", one.stages, ended=True)
    both = estimate(JobPlan((one, failed)), now=T0, rates=rates).eta_seconds
    assert both == pytest.approx(estimate(JobPlan((one,)), now=T0, rates=rates).eta_seconds)


def test_a_finished_job_has_nothing_left() -> None:
    done = StagePlan("Transcribing", "audio_seconds", 60, 60, finished=True, seconds=12)
    e = estimate(JobPlan((ArtifactPlan("audio", (done,)),)), now=T0)
    assert (e.eta_seconds, e.progress, e.estimated_completion) == (0.0, 100.0, T0)


# --- smoothing ------------------------------------------------------------------------


def test_smoothing_damps_a_jump_of_the_finish() -> None:
    shown = Shown(estimated_completion=at(3600), at=T0)
    now = at(5)
    raw = at(3600 + 600)  # one poll says ten minutes later
    s = smooth(raw, shown, now)
    assert at(3600) < s < at(3600 + 60)


def test_smoothing_lets_a_real_slowdown_show_within_minutes() -> None:
    shown = Shown(estimated_completion=at(3 * 3600), at=T0)
    now = T0
    raw_late = at(4 * 3600)
    for _ in range(120):  # the run really is slower: every poll says so, for ten minutes
        now += timedelta(seconds=5)
        shown = Shown(smooth(raw_late, shown, now), now)
    assert shown.estimated_completion > at(4 * 3600 - 300)


def test_smoothing_keeps_a_steady_countdown_steady() -> None:
    shown = Shown(at(600), T0)
    assert smooth(at(600), shown, at(5)) == at(600)


def test_smoothing_never_shows_a_finish_in_the_past() -> None:
    shown = Shown(at(10), T0)
    assert smooth(at(400), shown, at(60)) >= at(60)


def test_the_estimate_uses_the_previous_one_and_keeps_the_range_around_it() -> None:
    rates = learned_from(0.2)
    plan = transcription(1000, 500, elapsed=102)
    previous = Shown(at(102 + 200), at(97))
    e = estimate(plan, now=at(102), rates=rates, previous=previous)
    raw = estimate(plan, now=at(102), rates=rates)
    assert e.eta_seconds is not None and raw.eta_seconds is not None
    assert e.eta_seconds > raw.eta_seconds  # pulled toward the 200 s shown before
    assert e.eta_low is not None and e.eta_high is not None
    assert e.eta_low <= e.eta_seconds <= e.eta_high
    again = e.shown(at(102))
    assert again is not None and again.estimated_completion == e.estimated_completion
    assert again.at == at(102) and again.low == at(102 + e.eta_low)


def test_an_estimate_outside_the_range_shown_replaces_it_at_once() -> None:
    # Shown: 3600 s, between 3000 and 4200. The upload's facts come in: 60 s. Not noise.
    shown = Shown(at(3600), T0, low=at(3000), high=at(4200))
    assert smooth(at(65), shown, at(5)) == at(65)
    # Inside the range, it is still damped.
    assert at(3600) > smooth(at(3100), shown, at(5)) > at(3100)


def test_no_wait_while_a_slot_is_free() -> None:
    rates = learned_from(0.2)
    running = estimate(transcription(600, 300, elapsed=62), now=at(62), rates=rates)
    q = QueueState.from_estimates(position=1, slots=2, ahead=[running])
    assert q.wait_seconds == 0.0
    e = estimate(transcription(600), now=at(62), rates=rates, queue=q)
    assert (e.queue_position, e.wait_seconds) == (1, 0.0)


def test_an_overdue_finish_is_replaced_not_smoothed() -> None:
    # The finish shown before (10 s) has passed; the fresh estimate says 400 s. Smoothing from
    # the broken promise would show "done now"; the estimate shown must be the fresh one.
    shown = Shown(at(10), T0)
    assert smooth(at(400), shown, at(60)) == at(400)


def test_a_job_of_a_few_pages_is_mostly_its_learned_start_and_finish() -> None:
    rates: dict[RateKey, StageRate] = {}
    for name, seconds in ((JOB_START, 0.004), (JOB_FINISH, 0.010)):
        rate = lookup({}, "document", name, "", JOB_UNIT)
        for _ in range(5):
            rate = update(rate, 1.0, seconds)
        rates[RateKey("document", name, "")] = rate
    pages = StagePlan("Extracting", "pages", 5)
    plan = JobPlan((ArtifactPlan("document", (pages,)),))
    e = estimate(plan, now=T0, rates=rates)
    assert e.eta_seconds is not None
    # five pages at the prior rate (0.2 s each) plus 4 ms to start and 10 ms to finish
    assert e.eta_seconds == pytest.approx(5 * 0.2 + 0.014, rel=0.01)
    # once the stage began, only the finish is still ahead
    running = StagePlan("Extracting", "pages", 5, 0, started_at=T0)
    started = estimate(JobPlan((ArtifactPlan("document", (running,)),)), now=T0, rates=rates)
    assert started.eta_seconds == pytest.approx(5 * 0.2 + 0.010, rel=0.01)

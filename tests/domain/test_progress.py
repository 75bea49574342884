"""Progress of artifacts and jobs: stages weighted by expected seconds, never backwards."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.progress import (
    JOB_FINISH,
    JOB_START,
    ArtifactPlan,
    JobPlan,
    StagePlan,
    StageRun,
    artifact_plan,
    artifact_progress,
    duration_fields,
    finished_stage_runs,
    job_overheads,
    job_progress,
    monotonic,
    parse_time,
    stage_weights,
    stalled_for,
)
from stagecoach.domain.rates import RateKey, StageRate

RATES = {
    RateKey("audio", "Decoding"): StageRate(5, math.log(0.01), 0.01),
    RateKey("audio", "Transcribing"): StageRate(5, math.log(0.2), 0.01, startup_seconds=0.0),
}


def audio(done_decoding: bool, transcribed: float, total: float = 600) -> ArtifactPlan:
    return ArtifactPlan(
        "audio",
        (
            StagePlan("Decoding", "audio_seconds", total, total, finished=done_decoding),
            StagePlan("Transcribing", "audio_seconds", total, transcribed),
        ),
    )


def test_stage_weights_are_expected_seconds() -> None:
    assert stage_weights(audio(False, 0), RATES) == pytest.approx([6.0, 120.0])


def test_a_fast_stage_counts_for_little() -> None:
    # Decoding done, transcription not started: 6 s of 126 s expected.
    assert artifact_progress(audio(True, 0), RATES) == pytest.approx(100 * 6 / 126)


def test_halfway_through_the_slow_stage_is_about_half() -> None:
    assert artifact_progress(audio(True, 300), RATES) == pytest.approx(100 * 66 / 126)


def test_progress_is_capped_until_every_stage_finished() -> None:
    a = audio(True, 600)
    assert artifact_progress(a, RATES) == 99.0
    finished = ArtifactPlan("audio", tuple(replace(s, finished=True) for s in a.stages))
    assert artifact_progress(finished, RATES) == 100.0


def test_job_weighs_artifacts_by_their_expected_work() -> None:
    long = audio(True, 600 * 0.5, total=600)  # 126 s expected
    short = audio(True, 60, total=60)  # 12.6 s expected, transcription done but unfinished
    p = job_progress(JobPlan((long, short)), RATES)
    expected = (126 * (66 / 126) + 12.6 * (12.6 / 12.6)) / (126 + 12.6)
    assert p == pytest.approx(100 * expected)


def test_a_failed_artifact_counts_as_done_while_the_others_go_on() -> None:
    failed = ArtifactPlan("audio", audio(False, 0).stages, ended=True)
    ok = audio(True, 300)
    assert job_progress(JobPlan((failed, ok)), RATES) > artifact_progress(ok, RATES)


def test_a_job_whose_every_artifact_failed_shows_where_it_stopped() -> None:
    failed = ArtifactPlan("audio", audio(True, 300).stages, ended=True)
    assert job_progress(JobPlan((failed,)), RATES) == pytest.approx(100 * 66 / 126)


def test_without_history_the_priors_weigh_the_stages() -> None:
    # Prior: 4 s per audio second for transcription (+2 s start-up), 0.05 for decoding.
    p = artifact_progress(audio(True, 0, total=3600), {})
    assert p == pytest.approx(100 * 180 / (180 + 4 * 3600 + 2))


def test_stages_of_zero_cost_count_equally() -> None:
    a = ArtifactPlan("x", (StagePlan("A", "bytes", 0, finished=True), StagePlan("B", "bytes", 0)))
    assert artifact_progress(a, {}) == 50.0


@pytest.mark.parametrize(
    ("previous", "new", "shown"),
    [(None, 12.0, 12.0), (40.0, 35.0, 40.0), (40.0, 41.5, 41.5), (99.0, 100.0, 100.0)],
)
def test_progress_never_goes_backwards(previous: float | None, new: float, shown: float) -> None:
    assert monotonic(previous, new) == shown


def test_learning_a_rate_mid_run_does_not_move_the_bar_back() -> None:
    plan = audio(True, 300)
    before = artifact_progress(plan, RATES)
    # Another job just taught us transcription is slower: the unfinished stage weighs more.
    slower = {**RATES, RateKey("audio", "Transcribing"): StageRate(6, math.log(0.5), 0.01)}
    raw = artifact_progress(plan, slower)
    assert raw < before
    assert monotonic(before, raw) >= before


def test_duration_fields_follow_the_heaviest_stage() -> None:
    d = duration_fields(JobPlan((audio(True, 1200, total=3600),)), RATES)
    assert d is not None
    assert (d.processed, d.total, d.unit) == (1200, 3600, "audio_seconds")


def test_duration_fields_do_not_add_pages_to_seconds() -> None:
    doc = ArtifactPlan("document", (StagePlan("Extracting", "pages", 10, 4),))
    d = duration_fields(JobPlan((audio(True, 100), doc)), RATES)
    assert d is not None and d.unit == "audio_seconds" and d.total == 600
    assert duration_fields(JobPlan(()), RATES) is None


def test_stalled_after_five_minutes_without_a_report() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert stalled_for(t0, t0 + timedelta(seconds=299), 300) is None
    assert stalled_for(t0, t0 + timedelta(seconds=360), 300) == 360
    assert stalled_for(t0, t0 + timedelta(seconds=360), 300, processing=False) is None
    assert stalled_for(None, t0, 300) is None


# --- plans rebuilt from what the worker stored ------------------------------------------

STORED_UNITS = {
    "Extracting": {
        "unit": "pages",
        "done": 12.0,
        "total": 12.0,
        "started_at": "2026-03-01T09:00:00.100Z",
        "first_at": "2026-03-01T09:00:00.300Z",
        "half_at": "2026-03-01T09:00:01.100Z",
        "progress_at": "2026-03-01T09:00:02.000Z",
        "finished": True,
    },
    "Summarizing": {"unit": "sentences", "done": 4.0, "started_at": "2026-03-01T09:00:02.050Z"},
}


def test_a_plan_is_rebuilt_from_stored_stage_units_and_media_facts() -> None:
    plan = artifact_plan(
        "document",
        [("Extracting", "pages"), ("Summarizing", "sentences"), ("Charting", "rows")],
        STORED_UNITS,
        {"Extracting": 1.9},
        {"page_count": 12, "row_count": 250},
        engine="x",
    )
    extracting, summarizing, charting = plan.stages
    assert extracting.finished and extracting.seconds == 1.9 and extracting.fraction == 1.0
    assert extracting.progress_at == parse_time("2026-03-01T09:00:02Z")
    # a running stage whose total is not known yet, and whose unit no media fact gives
    assert summarizing.running and summarizing.units_total == 1.0 and summarizing.units_done == 4
    # a stage not started: its total comes from the file's facts
    assert charting.units_total == 250 and charting.started_at is None
    assert plan.engine == "x" and not plan.finished


def test_finished_stage_runs_carry_the_timings_learning_needs() -> None:
    (run,) = finished_stage_runs(STORED_UNITS, {"Extracting": 1.9})
    assert (run.stage, run.unit, run.units, run.seconds) == ("Extracting", "pages", 12.0, 1.9)
    assert run.startup_seconds == pytest.approx(0.2) and run.half_seconds == pytest.approx(1.0)
    # already finished in the stored copy before: not learned twice
    assert finished_stage_runs(STORED_UNITS, {"Extracting": 1.9}, before=STORED_UNITS) == []


def test_job_overheads_are_the_time_outside_the_stages() -> None:
    units = {**STORED_UNITS, "Summarizing": {**STORED_UNITS["Summarizing"], "finished": True}}
    seen = job_overheads(
        parse_time("2026-03-01T09:00:00.000Z"),
        parse_time("2026-03-01T09:00:02.600Z"),
        units,
        {"Extracting": 1.9, "Summarizing": 0.4},
    )
    assert seen is not None
    assert seen[JOB_START] == pytest.approx(0.1)  # claim to the first stage
    assert seen[JOB_FINISH] == pytest.approx(2.5 - 2.3)  # the rest, after the first began
    assert job_overheads(None, parse_time("2026-03-01T09:00:02Z"), units, {}) is None


def test_the_start_up_is_the_first_report_beyond_the_pace_of_its_units() -> None:
    def run(first_done: float | None, first_at: str = "2026-03-01T09:00:00.300Z") -> StageRun:
        units = {**STORED_UNITS["Extracting"], "first_at": first_at, "first_done": first_done}
        (r,) = finished_stage_runs({"Extracting": units}, {"Extracting": 2.1})
        return r

    # 0.5 s to a first report covering 2 of 12 pages; the other 10 took 1.6 s (0.16 s each)
    assert run(2.0, "2026-03-01T09:00:00.600Z").startup_seconds == pytest.approx(0.5 - 2 * 0.16)
    # 0.2 s for 2 pages while the rest went at 0.19 s a page: no start-up at all
    assert run(2.0).startup_seconds == 0.0
    # a stage that reports only when done says nothing of its start-up
    assert run(12.0).startup_seconds is None
    # records from before first_done was kept: the first report's time
    assert run(None).startup_seconds == pytest.approx(0.2)


def test_a_resumed_stage_is_learned_from_the_units_it_did_in_this_run() -> None:
    units = {**STORED_UNITS["Extracting"], "resumed_from": 8.0, "first_done": 9.0}
    (run,) = finished_stage_runs({"Extracting": units}, {"Extracting": 1.9})
    assert run.units == 4.0  # 12 pages, 8 of them kept by a checkpoint
    assert run.half_seconds is None  # its half came with the resume, not from its pace
    # A stage resumed at its very end did nothing to learn from.
    done = {**units, "resumed_from": 12.0}
    assert finished_stage_runs({"Extracting": done}, {"Extracting": 0.1}) == []

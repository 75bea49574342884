"""What the pages work out from a status document and a timeline (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stagecoach.domain.records import HistoryEntry
from stagecoach.web import views

T0 = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)


def entry(seconds: float, kind: str, status: str, stage: str | None) -> HistoryEntry:
    return HistoryEntry(job_id="j", at=T0 + timedelta(seconds=seconds), kind=kind,
                        status=status, stage=stage)


def doc(status: str, stage: str | None, **extra: object) -> dict:
    base = {"status": status, "current_stage": stage, "stages": ["Up", "Transcribe", "Analyze"],
            "artifacts": [], "attempts": 1, "max_attempts": 3, "error": None, "message": ""}
    return {**base, **extra}


def test_stage_seconds_come_from_the_timeline():
    entries = [entry(0, "created", "pending", "Up"), entry(5, "status", "processing", "Up"),
               entry(17, "stage", "processing", "Transcribe"),
               entry(77, "stage", "processing", "Analyze"),
               entry(80, "status", "completed", "Analyze")]
    assert views.stage_seconds(entries, doc("completed", "Analyze")) == {
        "Up": 12.0, "Transcribe": 60.0, "Analyze": 3.0}


def test_stage_seconds_fall_back_to_the_slowest_file():
    d = doc("completed", "Analyze", artifacts=[{"processing_stages": {"Up": 2.0}},
                                               {"processing_stages": {"Up": 4.5}}])
    assert views.stage_seconds([], d)["Up"] == 4.5


def test_steps_mark_done_current_failed_and_todo():
    spent = {"Up": 12.0}
    states = [(s.name, s.state, s.seconds) for s in views.steps(doc("processing", "Transcribe"),
                                                                 spent)]
    assert states == [("Up", "done", 12.0), ("Transcribe", "current", None),
                      ("Analyze", "todo", None)]
    assert [s.state for s in views.steps(doc("failed", "Transcribe"), {})] == [
        "done", "failed", "todo"]
    assert [s.state for s in views.steps(doc("completed", "Analyze"), {})] == ["done"] * 3


def test_error_view_explains_and_offers_retry_only_with_attempts_left():
    err = {"code": "corrupt", "category": "input", "retryable": False,
           "message": "The file is not a valid MP3.", "hint": ""}
    v = views.error_view(doc("failed", "Up", error=err))
    assert v is not None
    assert v["cause"] == "The file is not a valid MP3."
    assert "upload it again" in v["hint"]
    assert v["permanent"] and v["retryable"]  # the button stays; the page says it won't help
    assert views.error_view(doc("failed", "Up", attempts=3))["retryable"] is False
    assert views.error_view(doc("processing", "Up")) is None


def test_seconds_and_time_text():
    assert views.seconds_text(5.24) == "5.2s"
    assert views.seconds_text(75) == "1m 15s"
    assert views.seconds_text(3 * 3600 + 120) == "3h 02m"
    assert views.time_text("2026-01-09T10:00:00.000Z") == "2026-01-09 10:00:00 UTC"


def test_cases_group_jobs_newest_first():
    docs = [{"case_name": "A", "created_at": "1"}, {"case_name": "B", "created_at": "3"},
            {"case_name": "A", "created_at": "2"}, {"case_name": None, "created_at": "4"}]
    grouped = views.cases(docs)
    assert [name for name, _ in grouped] == ["B", "A"]
    assert [d["created_at"] for d in grouped[1][1]] == ["2", "1"]

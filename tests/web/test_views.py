"""What the pages work out from a status document and a timeline (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stagecoach.domain.records import HistoryEntry
from stagecoach.web import views

T0 = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)


def entry(seconds: float, kind: str, status: str, stage: str | None) -> HistoryEntry:
    return HistoryEntry(
        job_id="j", at=T0 + timedelta(seconds=seconds), kind=kind, status=status, stage=stage
    )


def doc(status: str, stage: str | None, **extra: object) -> dict:
    base = {
        "status": status,
        "current_stage": stage,
        "stages": ["Up", "Transcribe", "Analyze"],
        "artifacts": [],
        "attempts": 1,
        "max_attempts": 3,
        "error": None,
        "message": "",
    }
    return {**base, **extra}


def test_stage_seconds_come_from_the_timeline():
    entries = [
        entry(0, "created", "pending", "Up"),
        entry(5, "status", "processing", "Up"),
        entry(17, "stage", "processing", "Transcribe"),
        entry(77, "stage", "processing", "Analyze"),
        entry(80, "status", "completed", "Analyze"),
    ]
    assert views.stage_seconds(entries, doc("completed", "Analyze")) == {
        "Up": 12.0,
        "Transcribe": 60.0,
        "Analyze": 3.0,
    }


def test_stage_seconds_add_up_the_files_own_timings():
    d = doc(
        "completed",
        "Analyze",
        artifacts=[{"processing_stages": {"Up": 2.0}}, {"processing_stages": {"Up": 4.5}}],
    )
    entries = [
        entry(0, "status", "processing", "Up"),
        entry(30, "stage", "processing", "Analyze"),
        HistoryEntry(
            job_id="j",
            at=T0 + timedelta(seconds=1),
            kind="stage",
            status="processing",
            stage="Analyze",
            artifact_id="a1",
        ),
    ]
    spent = views.stage_seconds(entries, d)
    assert spent["Up"] == 6.5  # the files' timings win over the job's 30 s span


def test_timeline_rows_name_the_file_of_file_entries():
    d = doc("processing", "Up", artifacts=[{"artifact_id": "a1", "filename": "x.csv"}])
    entries = [
        entry(0, "created", "pending", "Up"),
        HistoryEntry(
            job_id="j",
            at=T0,
            kind="status",
            status="completed",
            stage="Up",
            artifact_id="a1",
            message="x.csv: completed",
        ),
    ]
    rows = views.timeline_rows(entries, d)
    assert [r["what"] for r in rows] == ["Created", "Completed (Up)"]
    assert rows[1]["file"] == "x.csv" and rows[1]["note"] == ""


def test_steps_mark_done_current_failed_and_todo():
    spent = {"Up": 12.0}
    states = [
        (s.name, s.state, s.seconds) for s in views.steps(doc("processing", "Transcribe"), spent)
    ]
    assert states == [
        ("Up", "done", 12.0),
        ("Transcribe", "current", None),
        ("Analyze", "todo", None),
    ]
    assert [s.state for s in views.steps(doc("failed", "Transcribe"), {})] == [
        "done",
        "failed",
        "todo",
    ]
    assert [s.state for s in views.steps(doc("completed", "Analyze"), {})] == ["done"] * 3


def test_error_view_explains_and_offers_retry_only_with_attempts_left():
    err = {
        "code": "corrupt",
        "category": "input",
        "retryable": False,
        "message": "The file is not a valid MP3.",
        "hint": "",
    }
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
    docs = [
        {"case_name": "A", "created_at": "1"},
        {"case_name": "B", "created_at": "3"},
        {"case_name": "A", "created_at": "2"},
        {"case_name": None, "created_at": "4"},
    ]
    grouped = views.cases(docs)
    assert [name for name, _ in grouped] == ["B", "A"]
    assert [d["created_at"] for d in grouped[1][1]] == ["2", "1"]

"""The human lines: time left and status messages in the seeds' words."""

from __future__ import annotations

import pytest

from stagecoach.domain.progress_text import (
    ESTIMATING,
    duration_text,
    eta_text,
    queue_text,
    status_message,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "less than a minute left"),
        (59, "less than a minute left"),
        (60, "~1 minute left"),
        (300, "~5 minutes left"),
        (19 * 60 + 20, "~19 minutes left"),
        (37 * 60, "~35 minutes left"),
        (56 * 60, "~55 minutes left"),
        (58 * 60, "~1 hour left"),
        (90 * 60, "~1.5 hours left"),
        (3.5 * 3600, "~3.5 hours left"),
        (3.4 * 3600, "~3.5 hours left"),
        (14.2 * 3600, "~14 hours left"),
        (3 * 86400, "~3 days left"),
    ],
)
def test_time_left_is_rounded_to_what_an_estimate_can_promise(seconds: float, text: str) -> None:
    assert eta_text(seconds, progress=50) == text


def test_almost_done_above_90_percent() -> None:
    assert eta_text(600, progress=90.5) == "Almost done"
    assert eta_text(600, progress=90.0) == "~10 minutes left"


def test_stalled_wins_over_everything() -> None:
    assert eta_text(600, progress=95, stalled_for=360) == "Stalled: no progress for 6 minutes"
    assert duration_text(7200) == "2 hours"


def test_no_estimate_yet() -> None:
    assert eta_text(None, progress=0) == ESTIMATING


def test_queue_text() -> None:
    assert queue_text(None) == "Waiting to start..."
    assert queue_text(2) == "Waiting in queue (position 2)"
    assert queue_text(3, 600) == "Waiting in queue (position 3, starts in ~10 minutes)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "processing", "file_type": "audio", "progress": 12}, "Processing audio..."),
        ({"status": "processing", "file_type": "document"}, "Processing document..."),
        ({"status": "processing", "file_type": "dataset"}, "Processing data..."),
        ({"status": "processing", "file_type": "other"}, "Processing..."),
        ({"status": "processing", "file_type": "audio", "progress": 95}, "Almost done"),
        (
            {"status": "completed", "complete_message": "Transcription complete!"},
            "Transcription complete!",
        ),
        ({"status": "completed"}, "Processing complete!"),
        ({"status": "failed"}, "Processing failed. Please try again."),
        (
            {"status": "failed", "error_message": "The speech engine ran out of memory."},
            "Processing failed. Please try again. The speech engine ran out of memory.",
        ),
        (
            {"status": "failed", "retryable": False, "error_message": "The file is not audio."},
            "Processing failed. The file is not audio.",
        ),
        ({"status": "cancelled"}, "Processing cancelled."),
        ({"status": "pending", "queue_position": 4}, "Waiting in queue (position 4)"),
    ],
)
def test_status_messages_follow_the_seeds(kwargs: dict[str, object], message: str) -> None:
    status = kwargs.pop("status")
    assert status_message(status, **kwargs) == message  # type: ignore[arg-type]


def test_resume_note_says_where_the_stage_carries_on() -> None:
    from stagecoach.domain.progress_text import resume_note

    assert resume_note("audio_seconds", 1390.4, 3600.0) == "resumed at 23:10 of 60:00"
    assert resume_note("audio_seconds", 5, 75) == "resumed at 0:05 of 1:15"
    assert resume_note("pages", 20, 45) == "resumed after 20 of 45 pages"

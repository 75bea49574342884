"""Processing speed after completion, in the unit of the file."""

from __future__ import annotations

import pytest

from stagecoach.domain.speed import artifact_speed, speed_text


@pytest.mark.parametrize(
    ("file_type", "units", "seconds", "text"),
    [
        ("audio", 3600, 1895, "1.9× real time"),
        ("video", 60, 240, "0.25× real time"),
        ("audio", 3600, 100, "36× real time"),
        ("document", 120, 10, "12 pages/s"),
        ("document", 3, 7.5, "2.5 s per page"),
        ("dataset", 401_234, 10, "40,000 rows/s"),
        ("dataset", 50, 0.02, "2,500 rows/s"),
        ("other", 250e6, 2, "120 MB/s"),
        ("other", 4000, 1, "4 kB/s"),
    ],
)
def test_speed_in_the_files_own_unit(file_type, units, seconds, text):
    assert speed_text(file_type, units, seconds) == text


@pytest.mark.parametrize(("units", "seconds"), [(None, 3), (10, None), (0, 3), (10, 0)])
def test_no_speed_without_both_figures(units, seconds):
    assert speed_text("audio", units, seconds) is None


def artifact(status="completed", **changes):  # type: ignore[no-untyped-def]
    doc = {
        "file_type": "audio",
        "status": status,
        "processing_stages": {"Decoding": 2.0, "Transcribing": 28.0, "Analyzing": 0.5},
        "stage_units": {
            "Decoding": {"unit": "audio_seconds", "done": 61.0, "total": 61.0},
            "Transcribing": {"unit": "audio_seconds", "done": 61.0, "total": 61.0},
            "Analyzing": {"unit": "segments", "done": 9, "total": 9},
        },
    }
    return doc | changes


def test_a_completed_artifact_tells_its_speed_over_all_its_stages():
    assert artifact_speed(artifact()) == "2× real time"  # 61 s of audio in 30.5 s


def test_only_a_completed_artifact_has_a_speed():
    assert artifact_speed(artifact("processing")) is None
    assert artifact_speed(artifact("failed")) is None


def test_a_dataset_artifact_in_rows_per_second():
    doc = artifact(
        file_type="dataset",
        processing_stages={"Parsing": 1.0, "Profiling": 1.0},
        stage_units={"Parsing": {"unit": "rows", "done": 20_000, "total": 20_000}},
    )
    assert artifact_speed(doc) == "10,000 rows/s"

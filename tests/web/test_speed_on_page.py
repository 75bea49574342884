"""The job page's file rows tell the processing speed once a file is done."""

from __future__ import annotations

from stagecoach.web.pages import templates


def _row(status: str) -> dict:
    return {
        "artifact_id": "a1",
        "filename": "releases.csv",
        "file_type": "dataset",
        "status": status,
        "current_stage": None,
        "progress": 100.0 if status == "completed" else 50.0,
        "processing_stages": {"Parsing": 0.5, "Profiling": 1.5},
        "stage_units": {"Parsing": {"unit": "rows", "done": 80_000, "total": 80_000}},
        "error_message": None,
    }


def test_a_completed_file_row_shows_its_speed():
    html = templates.get_template("_artifacts.html").render(job={"artifacts": [_row("completed")]})
    assert 'data-field="speed">speed: 40,000 rows/s<' in html


def test_a_file_still_processing_shows_no_speed():
    html = templates.get_template("_artifacts.html").render(job={"artifacts": [_row("processing")]})
    assert "speed:" not in html

"""The job page's file rows tell the processing speed once a file is done (the status
document's artifact ``speed``, built by the one builder)."""

from __future__ import annotations

from stagecoach.domain.contract import artifact_document
from stagecoach.domain.records import Artifact
from stagecoach.domain.status import JobStatus
from stagecoach.web.pages import templates


def _row(status: JobStatus) -> dict:
    return artifact_document(
        Artifact(
            artifact_id="a1",
            job_id="j",
            position=0,
            filename="releases.csv",
            file_type="dataset",
            status=status,
            progress=100.0 if status is JobStatus.COMPLETED else 50.0,
            processing_stages={"Parsing": 0.5, "Profiling": 1.5},
            stage_units={"Parsing": {"unit": "rows", "done": 80_000, "total": 80_000}},
        )
    )


def test_a_completed_file_row_shows_its_speed():
    row = _row(JobStatus.COMPLETED)
    assert row["speed"] == "40,000 rows/s"
    html = templates.get_template("_artifacts.html").render(job={"artifacts": [row]})
    assert 'data-field="speed">speed: 40,000 rows/s<' in html


def test_a_file_still_processing_shows_no_speed():
    row = _row(JobStatus.PROCESSING)
    assert row["speed"] is None
    html = templates.get_template("_artifacts.html").render(job={"artifacts": [row]})
    assert "speed:" not in html

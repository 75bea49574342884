"""A job the workers run follows from its files: status, outcome, error, stage line."""

from __future__ import annotations

from datetime import UTC, datetime

from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.rollup import PARTIAL, file_counts, roll_up, stage_line
from stagecoach.domain.status import JobStatus, can_retry

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ERR = {
    "code": "bad_media",
    "category": "input",
    "retryable": False,
    "message": "could not be read",
    "hint": "upload it again",
}


def job(**kw):
    base = dict(
        job_id="j",
        owner_id="o",
        status=JobStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
        claimable=True,
        stages=["Uploading"],
    )
    base.update(kw)
    return Job(**base)


def art(i, status, **kw):
    base = dict(
        artifact_id=f"a{i}",
        job_id="j",
        position=i,
        filename=f"file{i}.wav",
        file_type="audio",
        status=status,
        stages=["Decoding", "Transcribing"],
    )
    base.update(kw)
    return Artifact(**base)


P, R, C, F = JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED


def test_status_follows_the_files():
    assert roll_up(job(), [art(0, P), art(1, P)], NOW).status is P
    assert roll_up(job(), [art(0, R), art(1, P)], NOW).status is R
    # one ended, one still waiting for a slot: the job is under way
    assert roll_up(job(), [art(0, C), art(1, P)], NOW).status is R
    done = roll_up(job(), [art(0, C), art(1, C)], NOW)
    assert done.status is C and done.outcome == "complete" and done.progress == 100.0
    assert done.finished_at == NOW and done.error is None
    # every file handed back (a requeue): waiting again
    assert roll_up(job(status=R), [art(0, P), art(1, P)], NOW).status is P


def test_partial_success_is_completed_with_a_partial_outcome_and_names_the_file():
    arts = [art(0, C), art(1, F, error=ERR), art(2, C)]
    j = roll_up(job(status=R), arts, NOW)
    assert j.status is C and j.outcome == PARTIAL
    assert j.error is not None and j.error["message"].startswith("file1.wav: ")
    c = file_counts(arts)
    assert (c.total, c.done, c.failed) == (3, 2, 1)
    # partial may be retried, plain completed may not
    assert can_retry(C, 0, 1, PARTIAL)[0]
    assert not can_retry(C, 0, 1, "complete")[0]


def test_all_failed_is_failed_and_cancelled_stays_cancelled():
    j = roll_up(job(status=R), [art(0, F, error=ERR)], NOW)
    assert j.status is F and j.outcome is None and j.error["code"] == "bad_media"
    # one file: its error needs no name in front
    assert j.error["message"] == "could not be read"
    c = roll_up(job(status=JobStatus.CANCELLED), [art(0, JobStatus.CANCELLED)], NOW)
    assert c.status is JobStatus.CANCELLED


def test_stage_line_and_planned_stages():
    arts = [
        art(0, C),
        art(1, R, current_stage="Transcribing", filename="interview.wav"),
        art(
            2, P, stages=["Extracting", "Summarizing"], filename="report.pdf", file_type="document"
        ),
    ]
    j = roll_up(job(status=R), arts, NOW)
    assert stage_line(j, arts) == "Transcribing interview.wav · 1 of 3 files done"
    assert j.current_stage == "Transcribing"
    assert j.stages == ["Uploading", "Decoding", "Transcribing", "Extracting", "Summarizing"]
    assert j.attempts == 0 and j.started_at == NOW

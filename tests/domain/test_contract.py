"""The status document: derived fields from stored records and the time of asking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stagecoach.domain.contract import PipelineWords, iso, status_document
from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.records import Job
from stagecoach.domain.status import JobStatus

T0 = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
AUDIO = PipelineWords("audio", "Transcription complete!")


def job(**kw) -> Job:
    base = dict(
        job_id="j",
        owner_id="u",
        status=JobStatus.PROCESSING,
        created_at=T0,
        updated_at=T0,
        started_at=T0,
        last_progress_at=T0,
        pipeline="audio",
    )
    base.update(kw)
    return Job(**base)


def test_iso_is_utc_with_z():
    assert iso(T0) == "2026-01-09T10:00:00.000Z"


def test_eta_seconds_and_text_follow_the_clock():
    j = job(progress=12.5, estimated_completion=T0 + timedelta(hours=4))
    doc = status_document(j, [], T0 + timedelta(minutes=30), stall_after=1e9, words=AUDIO)
    assert doc["eta_seconds"] == 3.5 * 3600
    assert doc["eta_text"] == "~3.5 hours left"
    assert doc["message"] == "Processing audio..."


def test_almost_done_above_90():
    doc = status_document(job(progress=91), [], T0, stall_after=300)
    assert doc["eta_text"] == "Almost done" and doc["message"] == "Almost done"


def test_stalled_after_quiet_period():
    doc = status_document(job(progress=20), [], T0 + timedelta(minutes=6), stall_after=300)
    assert doc["stalled"] is True
    assert doc["eta_text"] == "Stalled: no progress for 6 minutes"


def test_failed_message_names_cause_and_completed_has_duration():
    err = JobError("x", ErrorCategory.INPUT, False, "The file is not audio.", "Upload again")
    f = status_document(job(status=JobStatus.FAILED, error=err.to_dict()), [], T0, stall_after=1)
    # A permanent cause does not tell the user to try again; a transient one does.
    assert f["message"] == "Processing failed. The file is not audio."
    flaky = JobError("t", ErrorCategory.DEPENDENCY, True, "Engine timed out.", "Retry")
    f2 = status_document(job(status=JobStatus.FAILED, error=flaky.to_dict()), [], T0, stall_after=1)
    assert f2["message"] == "Processing failed. Please try again. Engine timed out."
    done = job(status=JobStatus.COMPLETED, finished_at=T0 + timedelta(seconds=90), progress=100)
    d = status_document(done, [], T0, stall_after=1, words=AUDIO)
    assert d["message"] == "Transcription complete!" and d["processing_duration"] == 90
    assert d["eta_seconds"] is None and "results" in d["links"]


def test_expired_jobs_say_so():
    gone = job(status=JobStatus.COMPLETED, expired_at=T0)
    assert status_document(gone, [], T0, stall_after=1)["status"] == "expired"

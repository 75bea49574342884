"""Two rules for outside reporters (seed US005): units done move the progress when no
percentage is given, and a failure's message is built from its cause, whatever message the
reporter had set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stagecoach.domain.contract import status_document
from stagecoach.domain.job_update import Report, apply_report
from stagecoach.domain.records import Job
from stagecoach.domain.status import JobStatus

T0 = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
S = JobStatus


def job(**kw) -> Job:
    base = dict(job_id="j", owner_id="u", status=S.PENDING, created_at=T0, updated_at=T0)
    base.update(kw)
    return Job(**base)


def running(**kw) -> Job:
    return apply_report(job(**kw), Report(status=S.PROCESSING), T0).job


def test_duration_processed_moves_progress_when_no_progress_is_given():
    j = running(duration_total=3600)
    j = apply_report(j, Report(duration_processed=1200), T0 + timedelta(seconds=10)).job
    assert round(j.progress, 1) == 33.3 and j.duration_processed == 1200


def test_a_given_progress_wins_over_units_and_units_never_make_it_100():
    j = running(duration_total=100)
    j = apply_report(j, Report(duration_processed=50, progress=20), T0).job
    assert j.progress == 20
    j = apply_report(j, Report(duration_processed=100), T0).job
    assert j.progress == 99.0 and j.status is S.PROCESSING  # done means completed, not units


def test_units_without_a_total_leave_progress_alone():
    j = apply_report(running(), Report(duration_processed=50), T0).job
    assert j.progress == 0 and j.duration_processed == 50


def test_a_failed_jobs_message_names_the_cause_over_an_earlier_message():
    j = apply_report(running(), Report(message="Crunching numbers"), T0).job
    failed = apply_report(j, Report(status=S.FAILED, message="The GPU fell over."), T0).job
    doc = status_document(failed, [], T0, stall_after=300)
    assert doc["message"] == "Processing failed. Please try again. The GPU fell over."
    assert doc["error"]["message"] == "The GPU fell over."


def test_a_failure_without_a_cause_says_the_seeds_words():
    j = apply_report(running(), Report(message="Crunching numbers"), T0).job
    failed = apply_report(j, Report(status=S.FAILED), T0).job
    assert status_document(failed, [], T0, stall_after=300)["message"] == (
        "Processing failed. Please try again."
    )

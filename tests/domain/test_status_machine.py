"""The status machine and the rules of applying a report (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.job_update import Report, apply_report
from stagecoach.domain.records import Job
from stagecoach.domain.status import (
    ALLOWED,
    IllegalTransition,
    JobStatus,
    can_retry,
    check_transition,
    is_terminal,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = JobStatus


def job(**kw) -> Job:
    base = dict(job_id="j", owner_id="u", status=S.PENDING, created_at=T0, updated_at=T0)
    base.update(kw)
    return Job(**base)


@pytest.mark.parametrize(
    "a, b",
    [
        (S.PENDING, S.PROCESSING),
        (S.PROCESSING, S.COMPLETED),
        (S.PROCESSING, S.FAILED),
        (S.PROCESSING, S.CANCELLED),
        (S.PROCESSING, S.PENDING),
        (S.FAILED, S.PENDING),
        (S.PENDING, S.CANCELLED),
        (S.PENDING, S.FAILED),
    ],
)
def test_legal_transitions(a, b):
    check_transition(a, b)


@pytest.mark.parametrize(
    "a, b",
    [
        (S.COMPLETED, S.PROCESSING),
        (S.CANCELLED, S.PENDING),
        (S.FAILED, S.COMPLETED),
        (S.PENDING, S.COMPLETED),
        (S.COMPLETED, S.FAILED),
    ],
)
def test_illegal_transitions_say_what_is_allowed(a, b):
    with pytest.raises(IllegalTransition) as exc:
        check_transition(a, b)
    assert str(a) in str(exc.value) and "allowed next" in str(exc.value)


def test_terminal_states():
    assert is_terminal(S.COMPLETED) and is_terminal(S.CANCELLED)
    assert is_terminal(S.FAILED, attempts=3, max_attempts=3, retryable=True)
    assert not is_terminal(S.FAILED, attempts=1, max_attempts=3, retryable=True)
    assert is_terminal(S.FAILED, attempts=1, max_attempts=3, retryable=False)
    assert all(not ALLOWED[s] for s in (S.COMPLETED, S.CANCELLED))


def test_can_retry():
    assert can_retry(S.FAILED, 1, 3) == (True, "")
    assert not can_retry(S.FAILED, 3, 3)[0]
    assert not can_retry(S.COMPLETED, 1, 3)[0]


def test_start_counts_an_attempt_and_records_it():
    out = apply_report(job(), Report(status=S.PROCESSING, current_stage="Decoding"), T0)
    assert out.job.attempts == 1 and out.job.started_at == T0
    assert [h.kind for h in out.history] == ["attempt", "stage"]


def test_same_report_twice_changes_nothing_the_second_time():
    r = Report(status=S.PROCESSING, current_stage="A", progress=10)
    first = apply_report(job(), r, T0)
    second = apply_report(first.job, r, T0 + timedelta(seconds=5))
    assert not second.changed and second.history == []
    assert second.job.updated_at == T0


def test_progress_report_on_pending_job_starts_it():
    out = apply_report(job(), Report(progress=5), T0)
    assert out.job.status is S.PROCESSING and out.job.progress == 5


def test_lower_progress_is_not_applied_but_other_fields_are():
    running = job(status=S.PROCESSING, progress=50.0, attempts=1)
    out = apply_report(running, Report(progress=20, message="hi"), T0)
    assert out.job.progress == 50 and out.job.message == "hi"


def test_stale_seq_ignored_and_newer_applied():
    j = job(status=S.PROCESSING, seq=10, attempts=1)
    assert apply_report(j, Report(progress=90, seq=9), T0).ignored_reason
    assert apply_report(j, Report(progress=90, seq=11), T0).job.progress == 90


def test_failure_keeps_progress_and_stores_error():
    j = job(status=S.PROCESSING, progress=42.0, attempts=1)
    err = JobError("bad", ErrorCategory.INPUT, False, "Corrupt file", "Upload again")
    out = apply_report(j, Report(status=S.FAILED, error=err), T0)
    assert out.job.progress == 42 and out.job.error["code"] == "bad"
    assert out.job.finished_at == T0


def test_completed_job_takes_no_more_changes():
    done = job(status=S.COMPLETED, progress=100.0)
    with pytest.raises(IllegalTransition):
        apply_report(done, Report(current_stage="Again"), T0)
    with pytest.raises(IllegalTransition):
        apply_report(done, Report(status=S.PROCESSING), T0)


def test_retry_from_failed_needs_attempts_left():
    spent = job(status=S.FAILED, attempts=3, max_attempts=3)
    with pytest.raises(IllegalTransition):
        apply_report(spent, Report(status=S.PENDING), T0)
    ok = apply_report(job(status=S.FAILED, attempts=1), Report(status=S.PENDING), T0)
    assert ok.job.status is S.PENDING and ok.job.error is None


def test_new_attempt_resets_progress():
    requeued = job(status=S.PENDING, progress=60.0, attempts=1)
    out = apply_report(requeued, Report(status=S.PROCESSING), T0)
    assert out.job.attempts == 2

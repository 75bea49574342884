"""The queue's pure rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.records import Artifact
from stagecoach.domain.status import JobStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def art(status, error=None, **kw):
    return Artifact(
        artifact_id=kw.pop("aid", "a"),
        job_id="j",
        position=0,
        filename="f",
        file_type="other",
        status=status,
        error=error,
        **kw,
    )


PERM = {"code": "bad", "category": "input", "retryable": False, "message": "bad", "hint": "h"}
TRANS = {
    "code": "busy",
    "category": "dependency",
    "retryable": True,
    "message": "busy",
    "hint": "h",
}


def test_backoff_grows_exponentially_with_jitter_inside_bounds():
    rng = random.Random(7)
    for attempt in range(1, 8):
        exp = 2.0 * 2 ** (attempt - 1)
        values = [rules.backoff_seconds(attempt, 2.0, rng=rng) for _ in range(200)]
        assert all(exp / 2 <= v <= exp for v in values)
        assert len(set(values)) > 100  # jittered, not synchronised
    assert rules.backoff_seconds(50, 2.0, rng=rng) <= rules.MAX_BACKOFF_SECONDS


def test_artifact_end_fails_or_retries_by_error_and_attempts():
    end = rules.artifact_end(art(JobStatus.PROCESSING, attempts=1), _err(PERM), backoff_base=1)
    assert end.status is JobStatus.FAILED and end.error.code == "bad"
    end = rules.artifact_end(art(JobStatus.PROCESSING, attempts=1), _err(TRANS), backoff_base=1)
    assert end.status is JobStatus.PENDING and end.retry_in is not None
    end = rules.artifact_end(
        art(JobStatus.PROCESSING, attempts=3, max_attempts=3), _err(TRANS), backoff_base=1
    )
    assert end.status is JobStatus.FAILED and not end.error.retryable
    assert "after 3 attempts" in end.error.message


def _err(d):
    from stagecoach.domain.errors import JobError

    return JobError.from_dict(d)


def test_lease_and_stall_decisions():
    live = art(
        JobStatus.PROCESSING, lease_expires_at=NOW + timedelta(seconds=5), last_progress_at=NOW
    )
    assert not rules.lease_expired(live, NOW)
    assert rules.lease_expired(live, NOW + timedelta(seconds=6))
    assert not rules.is_stalled(live, NOW + timedelta(seconds=4), 300)
    alive_quiet = live.evolve(lease_expires_at=NOW + timedelta(seconds=400))
    assert rules.is_stalled(alive_quiet, NOW + timedelta(seconds=301), 300)
    # a dead worker is requeued, not called stalled
    assert not rules.is_stalled(live, NOW + timedelta(seconds=301), 300)


def test_queue_wait_counts_free_slots_and_the_work_ahead():
    # a free slot and nothing ahead: no wait, however long the running file is
    assert rules.queue_wait([600.0], [], slots=2) == 0.0
    # one slot busy for 600 s: wait for it
    assert rules.queue_wait([600.0], [], slots=1) == 600.0
    # two slots, one free: the file ahead takes the free one, this one waits for the first
    # slot to come free again (the 100 s file ahead finishes before the 600 s running one)
    assert rules.queue_wait([600.0], [100.0], slots=2) == 100.0
    assert rules.queue_wait([600.0], [100.0, 50.0], slots=2) == 150.0
    assert rules.queue_wait([], [10.0, 10.0, 10.0], slots=3) == 10.0


def test_progress_is_mean_of_stage_fractions_then_of_artifacts():
    units = {
        "A": {"unit": "bytes", "done": 50, "total": 100},
        "B": {"unit": "x", "done": 0, "total": 0},
    }
    assert rules.artifact_progress(["A", "B"], units) == 25.0
    units["B"]["finished"] = True
    assert rules.artifact_progress(["A", "B"], units) == 75.0
    done = art(
        JobStatus.PROCESSING,
        stage_units={"A": {"unit": "bytes", "done": 10, "total": 9, "finished": True}},
    )
    assert rules.units_processed([done], "bytes") == 9
    assert rules.units_processed([done], "pages") is None


def test_crash_error_names_the_signal():
    err = rules.crashed_stage_error("Decoding", -11)
    assert "SIGSEGV" in err.message and not err.retryable and err.hint

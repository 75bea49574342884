"""The worker in-process (threads and real child processes) over a real database."""

from __future__ import annotations

import time

import pytest

from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.store import queue as queue_store
from tests.worker.conftest import status_of, timeline_of, wait_for


def ended(services, owner, job_id):
    doc = status_of(services, owner, job_id)
    return doc if doc["status"] in ("completed", "failed", "cancelled") else None


def test_job_runs_through_its_stages_and_leaves_results(
    wservices, owner, make_job, make_file, start_worker
):
    files = [make_file(b"a" * 5000, "one.wav"), make_file(b"b" * 3000, "two.wav")]
    job_id = make_job("slow", files)
    start_worker()
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    assert doc["status"] == "completed", doc
    assert doc["progress"] == 100
    assert doc["attempts"] == 1
    assert doc["stages"] == ["Reading", "Writing"]
    for art in doc["artifacts"]:
        assert art["status"] == "completed"
        assert set(art["processing_stages"]) == {"Reading", "Writing"}
        assert art["stage_units"]["Reading"]["unit"] == "bytes"
        assert art["stage_units"]["Reading"]["finished"] is True
    names = {r["name"] for r in wservices.results.list_results(owner, job_id)}
    assert names == {"one.sha256", "two.sha256"}
    kinds = [e.kind for e in timeline_of(wservices, owner, job_id)]
    assert kinds[0] == "created" and "attempt" in kinds and kinds[-1] == "status"
    for a in doc["artifacts"]:
        f = [x for x in _files(wservices, job_id) if x.artifact_id == a["artifact_id"]][0]
        assert f.worker_id is None and f.lease_expires_at is None


def test_permanent_error_fails_at_once_with_its_message(wservices, owner, make_job, start_worker):
    job_id = make_job("permanent")
    start_worker()
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    assert doc["status"] == "failed"
    assert doc["attempts"] == 1
    assert doc["error"]["code"] == "corrupt_file"
    assert doc["error"]["retryable"] is False
    assert "The file is corrupt." in doc["message"]


def test_retryable_error_retries_with_backoff_then_fails(wservices, owner, make_job, start_worker):
    job_id = make_job("retryable")
    start_worker()
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    assert doc["status"] == "failed"
    assert doc["attempts"] == 3
    assert "gave up after 3 attempts" in doc["error"]["message"]
    entries = timeline_of(wservices, owner, job_id)
    assert [e.attempt for e in entries if e.kind == "attempt"] == [1, 2, 3]
    assert len([e for e in entries if e.kind == "retry"]) == 2
    assert wservices.queue.counters()["retries"] == 2


def test_retry_reruns_only_failed_artifacts(
    wservices, owner, make_job, make_file, start_worker, tmp_path, monkeypatch
):
    good, bad = make_file(b"g", "good.txt"), make_file(b"b", "bad.txt")
    job_id = make_job("picky", [good, bad])
    start_worker()
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    # one file done, one failed: a partial outcome, not a failure
    assert doc["status"] == "completed" and doc["outcome"] == "partial"
    assert (doc["files_done"], doc["files_failed"]) == (1, 1)
    arts = {a["filename"]: a for a in doc["artifacts"]}
    assert arts["good.txt"]["status"] == "completed"
    assert arts["bad.txt"]["status"] == "failed"
    assert [r["name"] for r in wservices.results.list_results(owner, job_id)] == ["good.txt"]
    first_done = arts["good.txt"]["completed_at"]
    wservices.tracking.retry(owner, job_id)
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    arts = {a["filename"]: a for a in doc["artifacts"]}
    assert arts["good.txt"]["completed_at"] == first_done  # not rerun
    assert (arts["good.txt"]["attempts"], arts["bad.txt"]["attempts"]) == (1, 2)
    assert doc["attempts"] == 2


def test_segfault_fails_only_that_artifact_and_the_worker_lives_on(
    wservices, owner, make_job, start_worker
):
    job_id = make_job("segfault")
    worker = start_worker()
    doc = wait_for(lambda: ended(wservices, owner, job_id))
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "stage_crashed"
    assert "SIGSEGV" in doc["error"]["message"]
    assert doc["error"]["retryable"] is False
    after = make_job("trivial")
    assert wait_for(lambda: ended(wservices, owner, after))["status"] == "completed"
    assert wait_for(lambda: worker.jobs_run == 2)  # counted just after the job ends


def test_cancel_stops_the_stage_within_two_seconds(wservices, owner, make_job, start_worker):
    job_id = make_job("hang")
    worker = start_worker()
    wait_for(lambda: status_of(wservices, owner, job_id)["status"] == "processing")
    wait_for(lambda: worker.runners)
    time.sleep(0.3)
    asked = time.monotonic()
    wservices.tracking.cancel(owner, job_id)
    wait_for(lambda: not worker.runners, timeout=2.5, every=0.02)
    assert time.monotonic() - asked <= 2.5  # bounded wait above; the stage process is gone
    doc = status_of(wservices, owner, job_id)
    assert doc["status"] == "cancelled"
    assert all(a["status"] == "cancelled" for a in doc["artifacts"])
    assert all(f.worker_id is None for f in _files(wservices, job_id))


def test_tracked_jobs_and_unknown_pipelines_are_never_claimed(
    wservices, owner, make_job, start_worker
):
    from stagecoach.services.tracking import NewJob

    outside = wservices.tracking.create_job(owner, NewJob(related_file_ids=[], pipeline="trivial"))
    foreign = make_job("no-such-pipeline")
    mine = make_job("trivial")
    start_worker()
    wait_for(lambda: ended(wservices, owner, mine))
    time.sleep(0.3)
    assert status_of(wservices, owner, outside["job_id"])["status"] == "pending"
    assert status_of(wservices, owner, foreign)["status"] == "pending"
    with wservices.ctx.db.read() as conn:
        assert queue_store.counters(conn)["claims"] == 1


def test_stall_is_flagged_while_the_worker_lives_then_cancel_ends_it(
    make_settings, wservices, owner, make_job
):
    from stagecoach.services.context import ServiceContext
    from stagecoach.services.registry import Services
    from stagecoach.worker.worker import Worker
    from tests.worker.conftest import FAST
    from tests.worker.pipelines import PIPELINES

    # same database and storage, a worker that calls a job stalled after 1 s of silence
    impatient = Services(ServiceContext.from_settings(make_settings(**{**FAST, "stall_after": 1})))
    worker = Worker(
        impatient.ctx, impatient.storage, PIPELINES, poll_interval=0.05, housekeeping_interval=0.3
    )
    job_id = make_job("hang")
    worker.start()
    try:
        wait_for(lambda: wservices.tracking.get_job(owner, job_id).stalled)
        doc = impatient.tracking.status(owner, job_id)
        assert doc["status"] == "processing" and doc["stalled"] is True
        assert doc["eta_text"].startswith("Stalled")
        stall = [e for e in timeline_of(wservices, owner, job_id) if e.kind == "stall"]
        assert len(stall) == 1 and "cancel and retry" in stall[0].message
        assert wservices.housekeeping.requeue_expired() == []  # alive: flagged, not requeued
        wservices.tracking.cancel(owner, job_id)
        wait_for(lambda: not worker.runners, timeout=3)
        assert status_of(wservices, owner, job_id)["status"] == "cancelled"
    finally:
        worker.stop(timeout=5)
        impatient.ctx.db.dispose()


def test_retry_past_the_limit_answers_409(wservices, owner, make_job, start_worker):
    from stagecoach.services.errors import Conflict

    job_id = make_job("retryable")
    start_worker()
    wait_for(lambda: ended(wservices, owner, job_id))
    try:
        wservices.tracking.retry(owner, job_id)
    except Conflict as exc:
        assert "used all 3 attempts" in exc.detail
    else:
        raise AssertionError("retry past the limit was accepted")


def test_lifecycle_is_logged_one_line_per_event_with_the_job_id(
    wservices, owner, make_job, start_worker, caplog
):
    import logging

    caplog.set_level(logging.INFO, logger="stagecoach")
    job_id = make_job("retryable")
    start_worker()
    wait_for(lambda: ended(wservices, owner, job_id))

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if getattr(r, "job_id", None) == job_id]

    # lines are written just after their transaction commits
    wait_for(lambda: "job failed" in lines(), timeout=5)
    messages = lines()
    assert messages.count("file claimed") == 3
    assert messages.count("job retry") == 2
    assert "job failed" in messages


def test_cancel_before_any_worker_cancels_its_files(wservices, owner, make_job):
    job_id = make_job("trivial")
    doc = wservices.tracking.cancel(owner, job_id)
    assert doc["status"] == "cancelled"
    assert [a["status"] for a in doc["artifacts"]] == ["cancelled"]


def long_lease(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease no slow machine's first attempt outlives: an expired lease is retried too,
    and the wake-up tests count attempts (a CI run once saw 2 where 1 was due)."""
    monkeypatch.setattr(services.ctx.settings, "lease_seconds", 30)


def test_an_idle_worker_wakes_when_a_job_becomes_claimable(
    wservices, owner, make_job, start_worker, monkeypatch
):
    # Polling once a minute: only the in-process signal can start the retried job in time.
    long_lease(wservices, monkeypatch)
    job_id = make_job("permanent")
    start_worker(poll_interval=60)
    assert wait_for(lambda: ended(wservices, owner, job_id))["attempts"] == 1
    time.sleep(0.3)  # the claim loop has found nothing more and sleeps
    wservices.tracking.retry(owner, job_id)
    doc = wait_for(lambda: (d := ended(wservices, owner, job_id)) and d["attempts"] == 2 and d, 10)
    assert doc["status"] == "failed" and doc["attempts"] == 2


def test_housekeeping_runs_the_extra_cleanups_with_the_retention_cleanup(
    wservices, start_worker, monkeypatch
):
    # What `serve` and `stagecoach worker` pass: the uploads' check for abandoned uploads.
    monkeypatch.setattr(wservices.ctx.settings, "cleanup_interval_seconds", 0.2)
    calls: list[float] = []
    start_worker(housekeeping_interval=0.1, cleanups=[lambda: calls.append(time.monotonic())])
    assert wait_for(lambda: len(calls) >= 2, timeout=10)


def test_on_postgresql_a_worker_is_woken_by_another_process(
    wsettings, wservices, owner, make_job, start_worker, monkeypatch
):
    if not wsettings.db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite other processes poll")
    long_lease(wservices, monkeypatch)
    job_id = make_job("permanent")
    start_worker(poll_interval=60)
    assert wait_for(lambda: ended(wservices, owner, job_id))["attempts"] == 1
    time.sleep(0.3)  # the claim loop has found nothing more and sleeps
    # Another process's services: its in-process signal cannot reach this worker.
    elsewhere = Services(ServiceContext.from_settings(wsettings))
    try:
        elsewhere.tracking.retry(owner, job_id)
    finally:
        elsewhere.ctx.db.dispose()
    doc = wait_for(lambda: (d := ended(wservices, owner, job_id)) and d["attempts"] == 2 and d, 10)
    assert doc["status"] == "failed" and doc["attempts"] == 2


def _files(services, job_id):  # type: ignore[no-untyped-def]
    from stagecoach.store import jobs as store

    with services.ctx.db.read() as conn:
        return store.job_artifacts(conn, job_id)

"""The queue service on a clock the tests move: a file (artifact) is the unit of work.
Claims, fencing, lost workers, backoff, stalls, partial outcomes, retries of failed files,
and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime

import pytest

from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.records import Artifact
from stagecoach.domain.status import JobStatus
from stagecoach.services.estimates import QUEUE_TTL_SECONDS
from stagecoach.services.queue import Claim, LeaseLost, ResultFile
from stagecoach.services.tracking import NewJob
from stagecoach.store import files as files_store
from stagecoach.store import jobs as jobs_store

STAGES = {"trivial": ["Working"]}


@pytest.fixture
def user(user_factory):
    return user_factory("analyst")


@pytest.fixture
def new_job(services, user, clock):
    def make(n_files: int = 1, pipeline: str = "trivial") -> str:
        ids = []
        for i in range(n_files):
            fid = str(uuid.uuid4())
            key = f"uploads/{fid}"
            with services.storage.open_write(key) as f:
                f.write(b"data")
            with services.ctx.db.write() as conn:
                files_store.insert_file(
                    conn,
                    file_id=fid,
                    owner_id=user.user_id,
                    original_name=f"f{i}.bin",
                    stored_path=key,
                    type="other",
                    mime="application/octet-stream",
                    size=4,
                    sha256=hashlib.sha256(b"data").hexdigest(),
                    upload_time=datetime.now(UTC),
                    status="stored",
                )
            ids.append(fid)
        doc = services.tracking.create_job(
            user, NewJob(related_file_ids=ids, pipeline=pipeline, claimable=True)
        )
        clock.advance(0.001)  # jobs keep the order they were made in
        return str(doc["job_id"])

    return make


def artifacts(services, job_id) -> list[Artifact]:
    with services.ctx.db.read() as conn:
        return jobs_store.job_artifacts(conn, job_id)


def kinds(services, user, job_id):
    return [(e.kind, e.message) for e in services.tracking.timeline(user, job_id)]


def worked(claim: Claim) -> Artifact:
    """The claimed file with its one stage done, as the worker's relay would store it."""
    return claim.artifact.evolve(
        current_stage="Working",
        stage_units={"Working": {"unit": "items", "done": 1.0, "total": 1.0, "finished": True}},
        processing_stages={"Working": 0.01},
    )


def complete(services, claim, tmp_path, name="out.txt"):
    (tmp_path / name).write_text("result")
    return services.queue.finish_artifact(
        claim.job.job_id, claim.token, worked(claim), results=[ResultFile(name, tmp_path / name)]
    )


PERMANENT = JobError("bad_input", ErrorCategory.INPUT, False, "could not be read", "fix it")
TRANSIENT = JobError("busy", ErrorCategory.DEPENDENCY, True, "busy", "wait")


def fail(services, claim, error=PERMANENT):
    return services.queue.finish_artifact(claim.job.job_id, claim.token, worked(claim), error=error)


def test_claim_takes_oldest_file_sets_lease_and_fencing_token(services, new_job, clock):
    first, second = new_job(), new_job()
    c1 = services.queue.claim("w1", STAGES)
    c2 = services.queue.claim("w2", STAGES)
    assert services.queue.claim("w3", STAGES) is None
    assert (c1.job.job_id, c2.job.job_id) == (first, second)
    a = c1.artifact
    assert c1.token == 1 and a.worker_id == "w1" and a.lease_token == 1
    assert a.status is JobStatus.PROCESSING and a.attempts == 1
    assert (a.lease_expires_at - clock.now).total_seconds() == services.ctx.settings.lease_seconds
    assert a.stages == ["Working"]
    assert c1.job.status is JobStatus.PROCESSING and c1.job.attempts == 1


def test_the_files_of_one_job_are_claimed_by_several_workers_at_once(services, user, new_job):
    job_id = new_job(n_files=3)
    claims = [services.queue.claim(f"w{i}", STAGES) for i in range(3)]
    assert all(c is not None and c.job.job_id == job_id for c in claims)
    assert len({c.artifact.artifact_id for c in claims}) == 3
    doc = services.tracking.status(user, job_id)
    assert doc["files_running"] == 3 and doc["status"] == "processing"
    assert {a["status"] for a in doc["artifacts"]} == {"processing"}
    assert doc["stage_line"].startswith("Working f0.bin (+2 more)")


def test_a_stale_worker_cannot_write_after_its_file_was_requeued(
    services, user, new_job, clock, tmp_path
):
    job_id = new_job()
    stale = services.queue.claim("w1", STAGES)
    clock.advance(services.ctx.settings.lease_seconds + 1)
    seen = services.ctx.work_ready.generation
    assert services.housekeeping.requeue_expired() == [stale.artifact.artifact_id]
    # the requeue announces the work: idle workers wake at once, not at their next poll
    assert services.ctx.work_ready.generation > seen
    fresh = services.queue.claim("w2", STAGES)
    assert fresh.token == stale.token + 2  # requeue and claim each move the fence
    (tmp_path / "r.txt").write_text("stale")
    with pytest.raises(LeaseLost):
        services.queue.write_artifact(job_id, stale.token, worked(stale))
    with pytest.raises(LeaseLost):
        services.queue.finish_artifact(
            job_id, stale.token, worked(stale), results=[ResultFile("r.txt", tmp_path / "r.txt")]
        )
    assert services.results.list_results(user, job_id) == []
    assert not list((services.ctx.settings.files_dir / "results").rglob("r.txt"))
    aid = stale.artifact.artifact_id
    assert services.queue.check_leases("w1", {aid: stale.token}, renew=True) == {aid: "lost"}
    complete(services, fresh, tmp_path)
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "completed" and doc["outcome"] == "complete"
    assert doc["attempts"] == 2
    assert [r["name"] for r in services.results.list_results(user, job_id)] == ["out.txt"]
    assert ("requeue", "f0.bin: worker lost, requeued") in kinds(services, user, job_id)


def test_a_dead_workers_scratch_directory_goes_when_its_file_is_taken_over(
    services, new_job, clock
):
    new_job()
    c = services.queue.claim("w1", STAGES)
    scratch = services.ctx.settings.data_dir / "work" / f"{c.artifact.artifact_id}-{c.token}"
    (scratch / "work").mkdir(parents=True)
    (scratch / "work" / "decoded.pcm").write_bytes(b"x" * 1000)
    clock.advance(services.ctx.settings.lease_seconds + 1)
    services.housekeeping.requeue_expired()
    assert not scratch.exists()


def test_lost_worker_out_of_attempts_fails_with_internal_error(services, user, new_job, clock):
    job_id = new_job()
    for _ in range(3):
        assert services.queue.claim("w", STAGES) is not None
        clock.advance(services.ctx.settings.lease_seconds + 1)
        services.housekeeping.requeue_expired()
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "worker_lost"
    assert doc["error"]["category"] == "internal" and doc["error"]["hint"]
    assert doc["artifacts"][0]["status"] == "failed"
    assert services.queue.counters()["lease_expiries"] == 3
    assert [k for k, _ in kinds(services, user, job_id)].count("requeue") == 2


def test_renewed_lease_is_not_requeued(services, new_job, clock):
    new_job()
    c = services.queue.claim("w", STAGES)
    aid = c.artifact.artifact_id
    for _ in range(5):
        clock.advance(services.ctx.settings.lease_seconds * 0.6)
        assert services.queue.check_leases("w", {aid: c.token}, renew=True) == {aid: "ok"}
        assert services.housekeeping.requeue_expired() == []


def test_retryable_failure_waits_out_its_backoff(services, user, new_job, clock):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    back = fail(services, c, TRANSIENT)
    assert back.status is JobStatus.PENDING and back.run_after is not None
    wait = (back.run_after - clock.now).total_seconds()
    base = services.ctx.settings.retry_backoff_seconds
    assert base / 2 <= wait <= base
    assert services.tracking.status(user, job_id)["status"] == "pending"
    assert services.queue.claim("w", STAGES) is None  # still backing off
    clock.advance(wait + 0.01)
    again = services.queue.claim("w", STAGES)
    assert again is not None and again.artifact.attempts == 2
    assert "retry" in [k for k, _ in kinds(services, user, job_id)]


def test_one_failed_file_gives_a_partial_outcome_with_the_others_results(
    services, user, new_job, tmp_path
):
    job_id = new_job(n_files=3)
    c0, c1, c2 = (services.queue.claim(f"w{i}", STAGES) for i in range(3))
    complete(services, c0, tmp_path, "a.txt")
    fail(services, c1)
    assert services.tracking.status(user, job_id)["status"] == "processing"  # one still runs
    complete(services, c2, tmp_path, "c.txt")
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "completed" and doc["outcome"] == "partial"
    assert (doc["files_total"], doc["files_done"], doc["files_failed"]) == (3, 2, 1)
    assert doc["error"]["message"] == "f1.bin: could not be read"
    assert doc["message"].startswith("2 of 3 files done; 1 failed.")
    names = sorted(r["name"] for r in services.results.list_results(user, job_id))
    assert names == ["a.txt", "c.txt"]
    assert ("status", "completed in part: 2 of 3 files done, 1 failed") in kinds(
        services, user, job_id
    )


def test_retry_reruns_only_the_failed_files(services, user, new_job, tmp_path, clock):
    job_id = new_job(n_files=2)
    c0, c1 = services.queue.claim("w0", STAGES), services.queue.claim("w1", STAGES)
    complete(services, c0, tmp_path, "a.txt")
    fail(services, c1)
    before = {a.artifact_id: a for a in artifacts(services, job_id)}
    kept = before[c0.artifact.artifact_id]
    clock.advance(5)
    doc = services.tracking.retry(user, job_id)
    assert doc["status"] == "processing" and doc["outcome"] is None
    again = services.queue.claim("w2", STAGES)
    assert again.artifact.artifact_id == c1.artifact.artifact_id and again.artifact.attempts == 2
    assert services.queue.claim("w3", STAGES) is None  # the completed file is not run again
    now = {a.artifact_id: a for a in artifacts(services, job_id)}[kept.artifact_id]
    assert now.status is JobStatus.COMPLETED
    assert (now.completed_at, now.processing_stages) == (kept.completed_at, kept.processing_stages)
    complete(services, again, tmp_path, "b.txt")
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "completed" and doc["outcome"] == "complete"
    names = sorted(r["name"] for r in services.results.list_results(user, job_id))
    assert names == ["a.txt", "b.txt"]


def test_cancel_stops_every_file_of_the_job(services, user, new_job):
    job_id = new_job(n_files=3)
    c0, c1 = services.queue.claim("w0", STAGES), services.queue.claim("w1", STAGES)
    doc = services.tracking.cancel(user, job_id)
    assert doc["status"] == "cancelled"
    assert {a["status"] for a in doc["artifacts"]} == {"cancelled"}
    held = {c.artifact.artifact_id: c.token for c in (c0, c1)}
    assert set(services.queue.check_leases("w", held, renew=True).values()) == {"cancelled"}
    assert services.queue.claim("w2", STAGES) is None


def test_stall_is_flagged_while_the_worker_lives_and_cleared_by_progress(
    services, user, new_job, clock
):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    aid = c.artifact.artifact_id
    stall_after = services.ctx.settings.stall_after
    step = services.ctx.settings.lease_seconds / 2
    waited = 0.0
    while waited < stall_after + step:
        clock.advance(step)
        waited += step
        services.queue.check_leases("w", {aid: c.token}, renew=True)
        services.housekeeping.flag_stalls()
    doc = services.tracking.status(user, job_id)
    assert doc["stalled"] is True and doc["artifacts"][0]["stalled"] is True
    stall = [m for k, m in kinds(services, user, job_id) if k == "stall"]
    assert len(stall) == 1 and "cancel and retry" in stall[0]
    services.queue.write_artifact(
        job_id,
        c.token,
        c.artifact.evolve(
            current_stage="Working",
            stage_units={"Working": {"unit": "items", "done": 0.5, "total": 1.0}},
        ),
    )
    assert services.tracking.status(user, job_id)["stalled"] is False
    assert ("stall_cleared", "progress resumed") in kinds(services, user, job_id)


def test_release_on_shutdown_does_not_count_the_attempt(services, user, new_job):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    seen = services.ctx.work_ready.generation
    assert services.queue.release(job_id, c.artifact.artifact_id, c.token)
    assert services.ctx.work_ready.generation > seen
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "pending" and doc["attempts"] == 0
    assert services.queue.claim("w", STAGES).artifact.attempts == 1


def test_retention_expires_old_ended_jobs_only(services, user, new_job, clock, tmp_path):
    old, active = new_job(), new_job()
    c = services.queue.claim("w", STAGES)
    assert c.job.job_id == old
    complete(services, c, tmp_path)
    services.queue.claim("w", STAGES)  # the other stays processing
    clock.advance(31 * 86400)
    dry = services.housekeeping.cleanup(dry_run=True)
    assert dry.jobs == [old] and dry.results == 1 and dry.files == 1
    assert services.tracking.status(user, old)["status"] == "completed"
    report = services.housekeeping.cleanup()
    assert report.jobs == [old]
    doc = services.tracking.status(user, old)
    assert doc["status"] == "expired" and doc["finished_at"] is not None
    assert services.tracking.timeline(user, old) == []
    assert services.results.list_results(user, old) == []
    assert not list((services.ctx.settings.files_dir / "results").rglob("*.txt"))
    assert services.tracking.status(user, active)["status"] == "processing"
    assert services.housekeeping.cleanup().jobs == []


def _stored_file(services, user, name, type_, **facts):
    fid = str(uuid.uuid4())
    with services.ctx.db.write() as conn:
        files_store.insert_file(
            conn,
            file_id=fid,
            owner_id=user.user_id,
            original_name=name,
            stored_path=None,
            type=type_,
            mime="application/octet-stream",
            size=facts.pop("size", 1000),
            upload_time=datetime.now(UTC),
            status="stored",
            **facts,
        )
    return fid


def test_queue_wait_counts_free_slots_and_the_work_really_ahead(services, user, clock):
    """A job queued behind one long recording waits for nothing while a slot is free, and
    for that recording when every slot is busy with it."""
    pipelines = {n: p.stage_names for n, p in services.pipelines.items()}
    long_file = _stored_file(services, user, "long.wav", "audio", duration_seconds=3600.0)
    services.tracking.create_job(
        user, NewJob(related_file_ids=[long_file], pipeline="audio", claimable=True)
    )
    assert services.queue.claim("w1", pipelines) is not None  # the long one runs
    clock.advance(2)
    small = _stored_file(services, user, "small.bin", "other", size=100)
    free = services.tracking.create_job(
        user, NewJob(related_file_ids=[small], pipeline="checksum", claimable=True)
    )
    # no live worker registered: the configured concurrency (2) counts, one slot is free
    assert free["status"] == "pending" and free["queue_position"] == 1
    assert free["eta_seconds"] < 60, free["eta_seconds"]
    # one live worker with one slot, busy with the hour-long recording (the process's
    # picture of the queue is read anew once its time to live has passed)
    services.queue.register_worker("w1", "host", 1, ["audio", "checksum"], 1)
    clock.advance(2)
    time.sleep(QUEUE_TTL_SECONDS + 0.05)
    busy = services.tracking.create_job(
        user, NewJob(related_file_ids=[small], pipeline="checksum", claimable=True)
    )
    assert busy["eta_seconds"] > 600, busy["eta_seconds"]

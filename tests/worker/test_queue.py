"""The queue service on a clock the tests move: claims, fencing, lost workers, backoff,
stalls and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest

from stagecoach.domain.records import Artifact
from stagecoach.domain.status import JobStatus
from stagecoach.services.queue import LeaseLost, ResultFile
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


def complete(services, claim, tmp_path, name="out.txt"):
    (tmp_path / name).write_text("result")
    for a in claim.artifacts:
        services.queue.write_artifact(
            claim.job.job_id,
            claim.token,
            a.evolve(status=JobStatus.COMPLETED, progress=100.0, current_stage="Working"),
            results=[ResultFile(name, tmp_path / name)],
        )
    return services.queue.end_attempt(claim.job.job_id, claim.token)


def test_claim_takes_oldest_sets_lease_and_fencing_token(services, new_job, clock):
    first, second = new_job(), new_job()
    c1 = services.queue.claim("w1", STAGES)
    c2 = services.queue.claim("w2", STAGES)
    assert services.queue.claim("w3", STAGES) is None
    assert (c1.job.job_id, c2.job.job_id) == (first, second)
    assert c1.token == 1 and c1.job.worker_id == "w1"
    assert c1.job.status is JobStatus.PROCESSING and c1.job.attempts == 1
    assert (
        c1.job.lease_expires_at - clock.now
    ).total_seconds() == services.ctx.settings.lease_seconds
    assert c1.job.stages == ["Working"]


def test_a_stale_worker_cannot_write_after_its_job_was_requeued(
    services, user, new_job, clock, tmp_path
):
    job_id = new_job()
    stale = services.queue.claim("w1", STAGES)
    clock.advance(services.ctx.settings.lease_seconds + 1)
    assert services.housekeeping.requeue_expired() == [job_id]
    fresh = services.queue.claim("w2", STAGES)
    assert fresh.token == stale.token + 2  # requeue and claim each move the fence
    art = stale.artifacts[0]
    (tmp_path / "r.txt").write_text("stale")
    with pytest.raises(LeaseLost):
        services.queue.write_artifact(
            job_id,
            stale.token,
            art.evolve(status=JobStatus.COMPLETED),
            results=[ResultFile("r.txt", tmp_path / "r.txt")],
        )
    with pytest.raises(LeaseLost):
        services.queue.end_attempt(job_id, stale.token)
    assert services.results.list_results(user, job_id) == []
    assert not list((services.ctx.settings.files_dir / "results").rglob("r.txt"))
    assert services.queue.check_leases("w1", {job_id: stale.token}, renew=True) == {job_id: "lost"}
    complete(services, fresh, tmp_path)
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "completed" and doc["attempts"] == 2
    assert [r["name"] for r in services.results.list_results(user, job_id)] == ["out.txt"]
    assert ("requeue", "worker lost, requeued") in kinds(services, user, job_id)


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
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    for _ in range(5):
        clock.advance(services.ctx.settings.lease_seconds * 0.6)
        assert services.queue.check_leases("w", {job_id: c.token}, renew=True) == {job_id: "ok"}
        assert services.housekeeping.requeue_expired() == []


def test_retryable_failure_waits_out_its_backoff(services, user, new_job, clock):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    err = {
        "code": "busy",
        "category": "dependency",
        "retryable": True,
        "message": "busy",
        "hint": "wait",
    }
    services.queue.write_artifact(
        job_id,
        c.token,
        c.artifacts[0].evolve(status=JobStatus.FAILED, error=err, error_message="busy"),
    )
    end = services.queue.end_attempt(job_id, c.token)
    assert end.status is JobStatus.PENDING
    base = services.ctx.settings.retry_backoff_seconds
    assert base / 2 <= end.retry_in <= base
    assert services.queue.claim("w", STAGES) is None  # still backing off
    clock.advance(end.retry_in + 0.01)
    again = services.queue.claim("w", STAGES)
    assert again is not None and again.job.attempts == 2
    assert again.artifacts[0].status is JobStatus.PENDING
    assert "retry" in [k for k, _ in kinds(services, user, job_id)]


def test_stall_is_flagged_while_the_worker_lives_and_cleared_by_progress(
    services, user, new_job, clock
):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    stall_after = services.ctx.settings.stall_after
    step = services.ctx.settings.lease_seconds / 2
    waited = 0.0
    while waited < stall_after + step:
        clock.advance(step)
        waited += step
        services.queue.check_leases("w", {job_id: c.token}, renew=True)
        services.housekeeping.flag_stalls()
    doc = services.tracking.status(user, job_id)
    assert doc["stalled"] is True
    stall = [m for k, m in kinds(services, user, job_id) if k == "stall"]
    assert len(stall) == 1 and "cancel and retry" in stall[0]
    services.queue.write_artifact(
        job_id,
        c.token,
        c.artifacts[0].evolve(status=JobStatus.PROCESSING, current_stage="Working", progress=50.0),
    )
    assert services.tracking.status(user, job_id)["stalled"] is False
    assert ("stall_cleared", "progress resumed") in kinds(services, user, job_id)


def test_release_on_shutdown_does_not_count_the_attempt(services, user, new_job):
    job_id = new_job()
    c = services.queue.claim("w", STAGES)
    assert services.queue.release(job_id, c.token)
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "pending" and doc["attempts"] == 0
    assert services.queue.claim("w", STAGES).job.attempts == 1


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

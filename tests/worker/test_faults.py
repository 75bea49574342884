"""Fault tests with real worker and server processes over a real database: SIGKILL, SIGSTOP
past the lease, a server restart, and a crowd of workers killed at random."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from stagecoach.store.tables import job_history, jobs, results
from tests.worker.conftest import file_of, job_row, wait_for
from tests.worker.procs import free_port, start_server, start_worker

pytestmark = pytest.mark.slow

SLOW = {"STAGECOACH_TEST_CHUNK_DELAY": "0.02"}  # 1 KiB chunks: 100 KiB in about 2 s


def results_of(services, job_id):
    with services.ctx.db.read() as conn:
        return conn.execute(sa.select(results).where(results.c.job_id == job_id)).mappings().all()


def entries(services, job_id):
    with services.ctx.db.read() as conn:
        return (
            conn.execute(
                sa.select(job_history)
                .where(job_history.c.job_id == job_id)
                .order_by(job_history.c.at, job_history.c.entry_id)
            )
            .mappings()
            .all()
        )


def progressing(services, job_id, worker_pid=None):
    """The job is in the middle of a stage: more than 5 % of its current stage's units done.
    (The job's own bar weighs stages by expected cost, so it is not the test of "mid-stage".)"""
    from stagecoach.store import jobs as store

    job = job_row(services, job_id)
    if job.status != "processing":
        return False
    with services.ctx.db.read() as conn:
        arts = store.job_artifacts(conn, job_id)
    for a in arts:
        units = a.stage_units.get(a.current_stage or "") or {}
        if units.get("total") and units.get("done", 0) > 0.05 * units["total"]:
            return job
    return False


def test_sigkill_mid_stage_another_worker_finishes(
    wsettings, wservices, make_job, make_file, tmp_path
):
    job_id = make_job("slow", [make_file(b"k" * 100_000, "long.wav")])
    a = start_worker(wsettings, tmp_path / "a.log", **SLOW)
    b = None
    try:
        wait_for(lambda: progressing(wservices, job_id))
        first = file_of(wservices, job_id)
        a.kill()
        b = start_worker(wsettings, tmp_path / "b.log", **SLOW)
        done = wait_for(
            lambda: (j := job_row(wservices, job_id)).status == "completed" and j, timeout=40
        )
    finally:
        a.stop()
        if b:
            b.stop()
    assert done.attempts == 2
    last = file_of(wservices, job_id)
    assert last.worker_id is None and last.lease_token > first.lease_token
    rows = results_of(wservices, job_id)
    assert [r["name"] for r in rows] == ["long.sha256"]  # written once
    assert rows[0]["lease_token"] == last.lease_token
    hist = entries(wservices, job_id)
    assert [h["message"] for h in hist if h["kind"] == "requeue"] == [
        "long.wav: worker lost, requeued"
    ]
    assert [h["status"] for h in hist if h["kind"] in ("status", "retry", "requeue")].count(
        "completed"
    ) == 1


def test_paused_worker_cannot_overwrite_after_takeover(
    wsettings, wservices, make_job, make_file, tmp_path
):
    job_id = make_job("slow", [make_file(b"p" * 100_000, "paused.wav")])
    a = start_worker(wsettings, tmp_path / "a.log", **SLOW)
    b = None
    try:
        wait_for(lambda: progressing(wservices, job_id))
        first = file_of(wservices, job_id)
        a.signal(signal.SIGSTOP)  # its stage child keeps going and will say "done" to it
        b = start_worker(wsettings, tmp_path / "b.log", **SLOW)
        done = wait_for(
            lambda: (j := job_row(wservices, job_id)).status == "completed" and j, timeout=40
        )
        history_before = len(entries(wservices, job_id))
        a.signal(signal.SIGCONT)
        time.sleep(wsettings.lease_seconds + 1.5)  # A wakes, tries its writes, is refused
        after = job_row(wservices, job_id)
    finally:
        a.stop()
        if b:
            b.stop()
    last = file_of(wservices, job_id)
    assert last.lease_token > first.lease_token
    assert (after.version, after.status, after.updated_at) == (
        done.version,
        "completed",
        done.updated_at,
    )
    assert len(entries(wservices, job_id)) == history_before
    rows = results_of(wservices, job_id)
    assert len(rows) == 1 and rows[0]["lease_token"] == last.lease_token
    log = (tmp_path / "a.log").read_text()
    assert "lease lost" in log or "file abandoned" in log


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm-to-the-group", "sigkill"]
)
def test_restart_server_mid_job_status_and_progress_survive(
    wsettings, wservices, owner, make_job, make_file, tmp_path, sig, db_url
):
    if not db_url.startswith("sqlite"):
        pytest.skip("one engine is enough for the restart test")
    port = free_port()
    job_id = make_job("slow", [make_file(b"r" * 100_000, "restart.wav")])
    server = start_server(wsettings, tmp_path / "s1.log", port, **SLOW)
    try:
        seen = wait_for(lambda: progressing(wservices, job_id), timeout=30)
        if sig == signal.SIGTERM:
            # A deploy: systemd and docker stop signal every process of the server, its stage
            # hosts too. The file goes back to the queue; it must not fail.
            server.signal_group(sig)
        else:
            server.signal(sig)
        server.p.wait(15)
    finally:
        server.stop()
    kept = job_row(wservices, job_id)
    if sig == signal.SIGTERM:
        assert kept.status == "pending", kept  # handed back, not failed
        assert file_of(wservices, job_id).status == "pending"
        assert "crashed" not in (tmp_path / "s1.log").read_text()
    assert kept.status in ("processing", "pending")  # released (SIGTERM) or lease held (KILL)
    assert kept.progress >= seen.progress
    assert kept.attempts == (0 if sig == signal.SIGTERM else 1)
    server = start_server(wsettings, tmp_path / "s2.log", port, **SLOW)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(base), timeout=30)
        tok = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": owner.username, "password": "pw-pw-pw-pw"},
        ).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        doc = httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=h).json()
        assert doc["status"] in ("processing", "pending", "completed")
        assert doc["progress"] >= round(seen.progress, 1)  # never back to zero (API rounds)
        done = wait_for(
            lambda: (
                (d := httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=h).json())["status"]
                == "completed"
                and d
            ),
            timeout=40,
        )
    finally:
        server.stop()
    assert done["progress"] == 100
    assert len(results_of(wservices, job_id)) == 1


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.postgres
def test_three_workers_random_sigkills_lose_nothing_and_finish_nothing_twice(
    wsettings, wservices, make_job, make_file, tmp_path, db_url
):
    if not db_url.startswith("postgresql"):
        pytest.skip("the crowd runs on PostgreSQL")
    n_jobs = 300
    f = make_file(b"c" * 64, "tiny.txt")
    ids = [make_job("trivial", [f]) for _ in range(n_jobs)]
    rng = random.Random(4)
    workers = [start_worker(wsettings, tmp_path / f"w{i}.log", concurrency=2) for i in range(3)]
    kills = 0
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            with wservices.ctx.db.read() as conn:
                active = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(jobs)
                    .where(jobs.c.status.in_(["pending", "processing"]))
                ).scalar_one()
            if active == 0:
                break
            # kills a few tenths of a second apart: the crowd ends within seconds
            time.sleep(rng.uniform(0.2, 0.6))
            if kills < 6 and 10 < active < n_jobs - 10:  # the workers are up and busy
                i = rng.randrange(len(workers))
                workers[i].kill()
                kills += 1
                workers[i] = start_worker(wsettings, tmp_path / f"w{i}-{kills}.log", concurrency=2)
    finally:
        for w in workers:
            w.stop()
    assert kills >= 3
    with wservices.ctx.db.read() as conn:
        statuses = Counter(
            conn.execute(sa.select(jobs.c.status).where(jobs.c.job_id.in_(ids))).scalars()
        )
        per_job = Counter(conn.execute(sa.select(results.c.job_id)).scalars())
        completions = Counter(
            conn.execute(
                sa.select(job_history.c.job_id).where(
                    job_history.c.status == "completed", job_history.c.kind == "status"
                )
            ).scalars()
        )
    assert sum(statuses.values()) == n_jobs
    assert set(statuses) <= {"completed", "failed"}, statuses  # every job terminal
    done = [j for j in ids if per_job[j]]
    assert statuses["completed"] == len(done)
    assert all(per_job[j] == 1 for j in ids if per_job[j])  # no job's result written twice
    assert all(completions[j] == 1 for j in done)  # none completed twice
    # the kills did interrupt jobs, and those were requeued
    assert wservices.queue.counters().get("lease_expiries", 0) >= 1
    with wservices.ctx.db.read() as conn:
        requeued = conn.execute(
            sa.select(sa.func.count())
            .select_from(job_history)
            .where(job_history.c.kind == "requeue")
        ).scalar_one()
    assert requeued >= 1

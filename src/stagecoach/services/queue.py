"""The durable queue, as the worker uses it: claim a file, hold it, report, finish, give back.

The unit of work is one file (artifact) of a job. Every write a worker makes goes through
the unit of work with its fence: the job is locked, the file's token compared, and the
UPDATE itself says ``lease_token = <mine>``. A worker that was paused or cut off past its
lease gets ``LeaseLost`` and must drop the file without writing anything (its results
included). The scans every worker also runs (expired leases, stalls, retention) are in
``housekeeping``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.errors import JobError
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import NotFound
from stagecoach.services.estimates import Estimates
from stagecoach.services.unit_of_work import Fence, JobChange, LeaseLost, NewResult, UnitOfWork
from stagecoach.settings import Settings
from stagecoach.storage.base import Storage
from stagecoach.store import jobs as jobs_store
from stagecoach.store import queue as store
from stagecoach.store import wakeups
from stagecoach.store import workers as workers_store

log = logging.getLogger("stagecoach.queue")

CLAIMS = "claims"
LEASE_EXPIRIES = "lease_expiries"
RETRIES = "retries"
STALLS = "stalls"
COMPLETED = "completed"
FAILED = "failed"


@dataclass(frozen=True)
class Claim:
    """One file a worker took: the file, its job as it was then, the claim's token and the
    stored file's record."""

    job: Job
    artifact: Artifact
    token: int
    file: dict[str, Any] | None

    @property
    def fence(self) -> Fence:
        return Fence(self.artifact.artifact_id, self.token)


@dataclass(frozen=True)
class ResultFile:
    name: str
    path: Path
    mime: str = "application/octet-stream"


class Queue:
    def __init__(self, ctx: ServiceContext, storage: Storage, estimates: Estimates) -> None:
        self.ctx = ctx
        self.storage = storage
        self.estimates = estimates
        self.uow = UnitOfWork(ctx, estimates)
        self.rng = random.Random()

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    # --- workers -----------------------------------------------------------------------
    def register_worker(
        self, worker_id: str, hostname: str, pid: int, pipelines: list[str], concurrency: int
    ) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            workers_store.register_worker(
                conn,
                worker_id=worker_id,
                hostname=hostname,
                pid=pid,
                pipelines=pipelines,
                concurrency=concurrency,
                started_at=now,
                heartbeat_at=now,
            )
        log.info("worker started", extra={"worker_id": worker_id, "pipelines": pipelines})

    def heartbeat_worker(self, worker_id: str) -> None:
        with self.ctx.db.write() as conn:
            workers_store.heartbeat(conn, worker_id, self.ctx.clock())

    def stop_worker(self, worker_id: str) -> None:
        with self.ctx.db.write() as conn:
            workers_store.stop_worker(conn, worker_id, self.ctx.clock())
        log.info("worker stopped", extra={"worker_id": worker_id})

    def live_workers(self) -> list[dict[str, Any]]:
        since = self.ctx.clock() - timedelta(seconds=2 * self.settings.lease_seconds)
        with self.ctx.db.read() as conn:
            return workers_store.live_workers(conn, since)

    # --- claim and hold ----------------------------------------------------------------
    def claim(self, worker_id: str, pipelines: Mapping[str, list[str]]) -> Claim | None:
        """Take the oldest runnable file of one of ``pipelines`` (name -> its stage names)."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            # An idle worker looks without taking SQLite's write lock from everyone else.
            if not store.has_claimable(conn, pipelines.keys(), now):
                return None
        self.estimates.prepare(queue=True)
        with self.ctx.db.write() as conn:
            found = store.claim_candidate(conn, pipelines.keys(), now)
            if found is None:
                return None
            art, job = found
            ch = self.uow.begin(conn, job, jobs_store.job_artifacts(conn, job.job_id))
            art = ch.artifact(art.artifact_id)
            token = art.lease_token + 1
            stages = art.stages or list(pipelines[art.pipeline or ""])
            new = art.evolve(
                status=JobStatus.PROCESSING,
                attempts=art.attempts + 1,
                lease_token=token,
                worker_id=worker_id,
                lease_expires_at=rules.lease_deadline(now, self.settings.lease_seconds),
                run_after=None,
                stalled=False,
                stages=stages,
                current_stage=stages[0] if stages else None,
                progress=0.0,
                stage_units={},
                processing_stages={},
                started_at=now,
                last_progress_at=now,
                completed_at=None,
                error=None,
                error_message=None,
            )
            ch.put(new)
            ch.note(
                "attempt",
                f"{art.filename}: attempt {new.attempts} of {new.max_attempts}, "
                f"claimed by worker {worker_id}",
                artifact=new,
            )
            ch.count(CLAIMS)
            ch.log(
                "file claimed",
                artifact_id=art.artifact_id,
                worker_id=worker_id,
                attempt=new.attempts,
                lease_token=token,
            )
            self.uow.commit(ch)
            file = store.file_row(conn, art.file_id)
        self.uow.after(ch)
        return Claim(ch.job, new, token, file)

    def check_leases(
        self, worker_id: str, leases: Mapping[str, int], *, renew: bool
    ) -> dict[str, str]:
        """For each held file (artifact_id -> token): "ok", "cancelled", "lost", or "ended"
        (by this worker, a moment ago); renews the live ones if asked."""
        now = self.ctx.clock()
        out: dict[str, str] = {}
        if renew:
            deadline = rules.lease_deadline(now, self.settings.lease_seconds)
            with self.ctx.db.write() as conn:
                workers_store.heartbeat(conn, worker_id, now)
                for aid in store.renew_leases(conn, dict(leases), worker_id, deadline):
                    out[aid] = "ok"
        with self.ctx.db.read() as conn:
            states = store.lease_states(conn, [a for a in leases if a not in out])
        for aid, token in leases.items():
            if aid in out:
                continue
            status, current = states.get(aid, ("missing", -1))
            if current != token:
                out[aid] = "lost"
            elif status == "cancelled":
                out[aid] = "cancelled"
            elif status == "processing":
                out[aid] = "ok"
            else:  # this worker just ended the attempt itself (completed, failed, retry)
                out[aid] = "ended"
        for aid, state in out.items():
            if state == "lost":
                log.warning("lease lost", extra={"artifact_id": aid, "worker_id": worker_id})
        return out

    # --- report ------------------------------------------------------------------------
    def write_artifact(
        self,
        job_id: str,
        token: int,
        artifact: Artifact,
        *,
        message: str | None = None,
        note: str | None = None,
    ) -> Job:
        """Store ``artifact`` as the worker sees it now (its stages, units, timings) and the
        job progress that follows; ``note`` adds a timeline entry."""
        return self._write(job_id, token, artifact, message=message, note=note)

    def finish_artifact(
        self,
        job_id: str,
        token: int,
        artifact: Artifact,
        *,
        error: JobError | None = None,
        results: list[ResultFile] | None = None,
    ) -> Artifact:
        """The file's attempt ended: completed with its results, or failed with ``error`` (then
        retried after a backoff while attempts and the error allow, else failed for good).
        The job rolls up from its files. Result files are copied into storage first and
        recorded in the same transaction; when the lease turns out to be lost they are
        deleted. Returns the file as stored."""
        return self._write(job_id, token, artifact, results=results, error=error, final=True)

    def _write(
        self,
        job_id: str,
        token: int,
        artifact: Artifact,
        *,
        message: str | None = None,
        results: list[ResultFile] | None = None,
        note: str | None = None,
        error: JobError | None = None,
        final: bool = False,
    ) -> Any:
        stored: list[tuple[ResultFile, str, int]] = []
        for r in results or []:
            key = f"results/{job_id}/{artifact.artifact_id}/{token}/{r.name}"
            stored.append((r, key, self.storage.put_file(key, r.path)))
        try:
            with self.uow.change(job_id, fence=Fence(artifact.artifact_id, token)) as ch:
                new = self._apply(ch, artifact, message, note, error, final)
                for r, key, size in stored:
                    ch.results.append(NewResult(new, r.name, key, r.mime, size, token))
        except BaseException:
            for _r, key, _size in stored:
                self.storage.delete(key)
            raise
        return new if final else ch.job

    def _apply(
        self,
        ch: JobChange,
        artifact: Artifact,
        message: str | None,
        note: str | None,
        error: JobError | None,
        final: bool,
    ) -> Artifact:
        now = ch.now
        old = ch.artifact(artifact.artifact_id)
        # What the worker may change of a file: its stages' progress, timings and the end.
        new = old.evolve(
            current_stage=artifact.current_stage,
            stage_units=artifact.stage_units,
            processing_stages=artifact.processing_stages,
        )
        # The file's bar weighs its stages by their expected cost; never backwards.
        new = new.evolve(progress=max(self.estimates.artifact_progress(new), old.progress))
        if new.stage_units != old.stage_units:
            # Any movement of a stage is progress, even when the percentage rounds to the
            # same value or the stage's total is unknown.
            new = new.evolve(last_progress_at=now, stalled=False)
        if old.stalled and not new.stalled:
            ch.note("stall_cleared", "progress resumed", artifact=new)
        if final and error is None:
            new = new.evolve(
                status=JobStatus.COMPLETED,
                progress=100.0,
                completed_at=now,
                worker_id=None,
                lease_expires_at=None,
                stalled=False,
            )
            self.estimates.learn_overheads(ch.conn, new, now)
            ch.note("artifact", f"{new.filename}: completed", artifact=new)
            ch.count(COMPLETED)
        elif final and error is not None:
            new = self._failed(ch, new, error)
        elif note:
            ch.note("artifact", note, artifact=new)
        if message is not None and ch.job.message != message:
            ch.set_job(ch.job.evolve(message=message))
        ch.put(new)
        return new

    def _failed(self, ch: JobChange, art: Artifact, error: JobError) -> Artifact:
        end = rules.artifact_end(
            art, error, backoff_base=self.settings.retry_backoff_seconds, rng=self.rng
        )
        if end.status is JobStatus.FAILED:
            ch.note(
                "artifact",
                f"{art.filename}: {end.error.message}",
                artifact=art.evolve(status=JobStatus.FAILED),
            )
            ch.count(FAILED)
            ch.log("file failed", artifact_id=art.artifact_id, error=end.error.code)
            return art.evolve(
                status=JobStatus.FAILED,
                error=end.error.to_dict(),
                error_message=end.error.message,
                completed_at=None,
                worker_id=None,
                lease_expires_at=None,
                stalled=False,
            )
        assert end.retry_in is not None
        retried = rules.reset_artifact(art).evolve(
            error=end.error.to_dict(),
            run_after=ch.now + timedelta(seconds=end.retry_in),
        )
        ch.note(
            "retry",
            f"{art.filename}: attempt {art.attempts} failed ({end.error.message}); "
            f"retrying in {end.retry_in:.0f} s",
            artifact=retried,
            attempt=art.attempts,
        )
        ch.count(RETRIES)
        return retried

    # --- waking idle workers ------------------------------------------------------------
    @property
    def can_listen_for_work(self) -> bool:
        """Whether other processes announce claimable jobs (PostgreSQL NOTIFY)."""
        return self.ctx.db.engine.dialect.name == "postgresql"

    def listen_for_work(self, stop: threading.Event) -> None:
        """Until ``stop``: wake this process's idle workers (``ctx.work_ready``) whenever any
        process announces a claimable file. Blocking: run it in a thread of its own."""
        wakeups.listen(self.ctx.db.url, wakeups.WORK_CHANNEL, self.ctx.work_ready.notify, stop)

    def release(
        self, job_id: str, artifact_id: str, token: int, reason: str = "worker stopped, requeued"
    ) -> bool:
        """Give a file back on a clean shutdown: waiting again, the interrupted attempt not
        counted against it."""
        try:
            with self.uow.change(job_id, fence=Fence(artifact_id, token)) as ch:
                a = ch.artifact(artifact_id)
                back = rules.reset_artifact(a).evolve(
                    attempts=max(0, a.attempts - 1), lease_token=token + 1
                )
                ch.put(back)
                ch.note("requeue", f"{a.filename}: {reason}", artifact=back)
                ch.log("file released", artifact_id=artifact_id, reason=reason)
        except LeaseLost:
            return False
        return True

    def settle_cancelled(self, job_id: str, artifact_id: str, token: int) -> None:
        """The user cancelled a file this worker ran: forget the lease (the cancel itself
        already ended the file)."""
        with contextlib.suppress(NotFound), self.uow.change(job_id) as ch:
            a = ch.artifact(artifact_id)
            if a.lease_token != token or a.status is not JobStatus.CANCELLED:
                return
            ch.put(a.evolve(worker_id=None, lease_expires_at=None))
            ch.quiet = True
            ch.log("file cancelled, stage stopped", artifact_id=artifact_id)

    def counters(self) -> dict[str, int]:
        with self.ctx.db.read() as conn:
            return store.counters(conn)

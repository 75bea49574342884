"""The durable queue, as the worker uses it: claim, hold, report, finish, give back.

Every write a worker makes names its fencing token: inside one transaction the job is locked,
its token compared, and the UPDATE itself says ``lease_token = <mine>``. A worker that was
paused or cut off past its lease gets ``LeaseLost`` and must drop the job without writing
anything (its results included). The scans every worker also runs (expired leases, stalls,
retention) are in ``housekeeping``.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.job_update import Report, apply_report
from stagecoach.domain.records import Artifact, HistoryEntry, Job
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.estimates import Estimates
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


class LeaseLost(Exception):
    """The job is no longer this worker's: ``reason`` is "cancelled" or "lost"."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id}: {reason}")
        self.job_id = job_id
        self.reason = reason


@dataclass(frozen=True)
class Claim:
    job: Job
    token: int
    artifacts: list[Artifact]  # the ones to run: everything not completed yet
    files: dict[str, dict[str, Any]]  # file_id -> files row


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
        """Take the oldest runnable job of one of ``pipelines`` (name -> its stage names)."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            # An idle worker looks without taking SQLite's write lock from everyone else.
            if store.claim_candidate(conn, pipelines.keys(), now, lock=False) is None:
                return None
        with self.ctx.db.write() as conn:
            job = store.claim_candidate(conn, pipelines.keys(), now)
            if job is None:
                return None
            outcome = apply_report(
                job,
                Report(
                    status=JobStatus.PROCESSING, history_message=f"claimed by worker {worker_id}"
                ),
                now,
            )
            token = job.lease_token + 1
            new = outcome.job.evolve(
                lease_token=token,
                worker_id=worker_id,
                lease_expires_at=rules.lease_deadline(now, self.settings.lease_seconds),
                run_after=None,
                stalled=False,
                message=None,
                stages=job.stages or list(pipelines[job.pipeline or ""]),
            )
            # A new attempt starts from a fresh estimate: the queue wait is behind it.
            new = self.estimates.refresh(conn, new, new_attempt=True)
            if not store.save_job_fenced(conn, job, new, job.lease_token):
                return None
            jobs_store.append_history(conn, outcome.history)
            store.bump_counter(conn, CLAIMS)
            jobs_store.record_change(conn, new, now)
            arts = [
                a
                for a in jobs_store.job_artifacts(conn, job.job_id)
                if a.status is not JobStatus.COMPLETED
            ]
            files = store.file_rows(conn, [a.file_id for a in arts if a.file_id])
        log.info(
            "job claimed",
            extra={
                "job_id": new.job_id,
                "worker_id": worker_id,
                "attempt": new.attempts,
                "lease_token": token,
            },
        )
        return Claim(new, token, arts, files)

    def check_leases(
        self, worker_id: str, leases: Mapping[str, int], *, renew: bool
    ) -> dict[str, str]:
        """For each held job: "ok", "cancelled", "lost", or "ended" (by this worker, a moment
        ago); renews the live ones if asked."""
        now = self.ctx.clock()
        out: dict[str, str] = {}
        if renew:
            deadline = rules.lease_deadline(now, self.settings.lease_seconds)
            with self.ctx.db.write() as conn:
                workers_store.heartbeat(conn, worker_id, now)
                for job_id, token in leases.items():
                    if store.renew_lease(conn, job_id, token, worker_id, deadline):
                        out[job_id] = "ok"
        with self.ctx.db.read() as conn:
            states = store.lease_states(conn, [j for j in leases if j not in out])
        for job_id, token in leases.items():
            if job_id in out:
                continue
            status, current = states.get(job_id, ("missing", -1))
            if current != token:
                out[job_id] = "lost"
            elif status == "cancelled":
                out[job_id] = "cancelled"
            elif status == "processing":
                out[job_id] = "ok"
            else:  # this worker just ended the attempt itself (completed, failed, retry)
                out[job_id] = "ended"
        for job_id, state in out.items():
            if state == "lost":
                log.warning("lease lost", extra={"job_id": job_id, "worker_id": worker_id})
        return out

    def _fenced(self, conn: Connection, job_id: str, token: int) -> Job:
        job = store.lock_job(conn, job_id)
        if job is None or job.lease_token != token:
            raise LeaseLost(job_id, "lost")
        if job.status is JobStatus.CANCELLED:
            raise LeaseLost(job_id, "cancelled")
        if job.status is not JobStatus.PROCESSING:
            raise LeaseLost(job_id, "lost")
        return job

    # --- report ------------------------------------------------------------------------
    def write_artifact(
        self,
        job_id: str,
        token: int,
        artifact: Artifact,
        *,
        message: str | None = None,
        results: list[ResultFile] | None = None,
        note: str | None = None,
    ) -> Job:
        """Store ``artifact`` as the worker sees it now and the job progress that follows.

        Result files are copied into storage first and recorded in the same transaction as
        the artifact's completion; when the lease turns out to be lost they are deleted.
        """
        stored: list[tuple[ResultFile, str, int]] = []
        for r in results or []:
            key = f"results/{job_id}/{token}/{artifact.artifact_id}/{r.name}"
            stored.append((r, key, self.storage.put_file(key, r.path)))
        try:
            return self._write_artifact(job_id, token, artifact, message, stored, note)
        except BaseException:
            for _r, key, _size in stored:
                self.storage.delete(key)
            raise

    def _write_artifact(
        self,
        job_id: str,
        token: int,
        artifact: Artifact,
        message: str | None,
        stored: list[tuple[ResultFile, str, int]],
        note: str | None,
    ) -> Job:
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            job = self._fenced(conn, job_id, token)
            old = store.get_artifact(conn, artifact.artifact_id)
            if old is None or old.job_id != job_id:
                raise LeaseLost(job_id, "lost")
            # The artifact's bar weighs its stages by their expected cost; never backwards.
            weighted = self.estimates.artifact_progress(conn, job, artifact)
            artifact = artifact.evolve(
                progress=max(weighted, old.progress) if old.status is artifact.status else weighted
            )
            store.save_artifact_fenced(conn, old, artifact)
            self.estimates.learn_finished_stages(conn, job, old, artifact)
            history: list[HistoryEntry] = []
            if old.status is not artifact.status or note:
                history.append(
                    HistoryEntry(
                        job_id=job_id,
                        at=now,
                        kind="artifact",
                        status=str(artifact.status),
                        stage=artifact.current_stage,
                        artifact_id=artifact.artifact_id,
                        attempt=job.attempts,
                        message=note or f"{artifact.filename}: {artifact.status}",
                    )
                )
            if stored:
                taken = store.result_names(conn, job_id)
                for r, key, size in stored:
                    name = r.name if r.name not in taken else f"{artifact.position + 1}-{r.name}"
                    taken.add(name)
                    store.insert_result(
                        conn,
                        result_id=_uuid(),
                        job_id=job_id,
                        artifact_id=artifact.artifact_id,
                        name=name,
                        stored_path=key,
                        mime=r.mime,
                        size=size,
                        created_at=now,
                        lease_token=token,
                    )
            arts = jobs_store.job_artifacts(conn, job_id)
            # Weighted progress and a fresh estimate, written with the progress itself.
            estimated = self.estimates.refresh(conn, job, arts, shown_at=job.updated_at)
            outcome = apply_report(
                job,
                Report(
                    current_stage=artifact.current_stage,
                    progress=estimated.progress,
                    duration_processed=rules.units_processed(arts, job.unit),
                    message=message,
                ),
                now,
            )
            new = outcome.job.evolve(
                estimated_completion=estimated.estimated_completion,
                eta_low=estimated.eta_low,
                eta_high=estimated.eta_high,
            )
            if artifact.stage_units != old.stage_units or artifact.status is not old.status:
                # Any movement of the stage is progress, even when the percentage rounds
                # to the same value or the stage's total is unknown.
                new = new.evolve(last_progress_at=now, stalled=False)
            if job.stalled and not new.stalled:
                history.append(
                    HistoryEntry(
                        job_id=job_id,
                        at=now,
                        kind="stall_cleared",
                        status=str(new.status),
                        stage=new.current_stage,
                        attempt=new.attempts,
                        message="progress resumed",
                    )
                )
                log.info("stall cleared", extra={"job_id": job_id})
            if not store.save_job_fenced(conn, job, new, token):
                raise LeaseLost(job_id, "lost")
            jobs_store.append_history(conn, outcome.history + history)
            jobs_store.record_change(conn, new, now)
        for h in outcome.history + history:
            log.info(
                "job %s",
                h.kind,
                extra={
                    "job_id": job_id,
                    "status": h.status,
                    "stage": h.stage,
                    "artifact_id": h.artifact_id,
                },
            )
        return new

    def end_attempt(
        self, job_id: str, token: int, complete_message: str | None = None
    ) -> rules.AttemptEnd:
        """Every artifact of this attempt has finished: complete, fail or retry the job."""
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            job = self._fenced(conn, job_id, token)
            arts = jobs_store.job_artifacts(conn, job_id)
            end = rules.attempt_end(
                job, arts, backoff_base=self.settings.retry_backoff_seconds, rng=self.rng
            )
            clear: dict[str, Any] = {"worker_id": None, "lease_expires_at": None}
            if end.status is JobStatus.COMPLETED:
                outcome = apply_report(job, Report(status=JobStatus.COMPLETED), now)
                new = outcome.job.evolve(message=complete_message, **clear)
                self.estimates.learn_overheads(conn, job, arts, now)
                history = outcome.history
                store.bump_counter(conn, COMPLETED)
            elif end.status is JobStatus.FAILED:
                outcome = apply_report(job, Report(status=JobStatus.FAILED, error=end.error), now)
                new = outcome.job.evolve(message=None, **clear)
                history = outcome.history
                store.bump_counter(conn, FAILED)
            else:
                assert end.error is not None and end.retry_in is not None
                text = (
                    f"attempt {job.attempts} failed ({end.error.message}); "
                    f"retrying in {end.retry_in:.0f} s"
                )
                outcome = apply_report(
                    job, Report(status=JobStatus.PENDING, history_message=text), now
                )
                new = outcome.job.evolve(
                    message=None,
                    error=end.error.to_dict(),
                    run_after=now + timedelta(seconds=end.retry_in),
                    **clear,
                )
                history = [h.evolve(kind="retry") for h in outcome.history]
                for a in arts:
                    if a.status is not JobStatus.COMPLETED:
                        store.save_artifact_fenced(conn, a, reset_artifact(a))
                store.bump_counter(conn, RETRIES)
            if not store.save_job_fenced(conn, job, new, token):
                raise LeaseLost(job_id, "lost")
            jobs_store.append_history(conn, history)
            jobs_store.record_change(conn, new, now)
        log.info(
            "job %s",
            "retry" if end.status is JobStatus.PENDING else end.status,
            extra={
                "job_id": job_id,
                "attempt": job.attempts,
                "error": end.error.code if end.error else None,
                "retry_in": end.retry_in,
            },
        )
        return end

    # --- waking idle workers ------------------------------------------------------------
    @property
    def can_listen_for_work(self) -> bool:
        """Whether other processes announce claimable jobs (PostgreSQL NOTIFY)."""
        return self.ctx.db.engine.dialect.name == "postgresql"

    def listen_for_work(self, stop: threading.Event) -> None:
        """Until ``stop``: wake this process's idle workers (``ctx.work_ready``) whenever any
        process announces a claimable job. Blocking: run it in a thread of its own."""
        wakeups.listen(self.ctx.db.url, wakeups.WORK_CHANNEL, self.ctx.work_ready.notify, stop)

    def release(self, job_id: str, token: int, reason: str = "worker stopped, requeued") -> bool:
        """Give a job back on a clean shutdown: pending again, the interrupted attempt not
        counted against the job."""
        now = self.ctx.clock()
        try:
            with self.ctx.db.write() as conn:
                job = self._fenced(conn, job_id, token)
                outcome = apply_report(
                    job, Report(status=JobStatus.PENDING, history_message=reason), now
                )
                new = outcome.job.evolve(
                    attempts=max(0, job.attempts - 1),
                    lease_token=token + 1,
                    worker_id=None,
                    lease_expires_at=None,
                    message=None,
                    run_after=None,
                )
                for a in jobs_store.job_artifacts(conn, job_id):
                    if a.status is JobStatus.PROCESSING:
                        store.save_artifact_fenced(conn, a, reset_artifact(a))
                store.save_job_fenced(conn, job, new, token)
                jobs_store.append_history(conn, [h.evolve(kind="requeue") for h in outcome.history])
                jobs_store.record_change(conn, new, now)
                self.ctx.announce_work(conn)  # another worker may take it at once
        except LeaseLost:
            return False
        log.info("job released", extra={"job_id": job_id, "reason": reason})
        return True

    def settle_cancelled(self, job_id: str, token: int) -> None:
        """The user cancelled a job this worker ran: stop its artifacts, forget the lease."""
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            job = store.lock_job(conn, job_id)
            if job is None or job.lease_token != token or job.status is not JobStatus.CANCELLED:
                return
            for a in jobs_store.job_artifacts(conn, job_id):
                if a.status in (JobStatus.PENDING, JobStatus.PROCESSING):
                    store.save_artifact_fenced(conn, a, a.evolve(status=JobStatus.CANCELLED))
            store.release_lease(conn, job_id, token)
            jobs_store.record_change(conn, job, now)
        log.info("job cancelled, stage stopped", extra={"job_id": job_id})

    def counters(self) -> dict[str, int]:
        with self.ctx.db.read() as conn:
            return store.counters(conn)


def reset_artifact(a: Artifact) -> Artifact:
    """An artifact made ready to run again: pending, nothing done."""
    return a.evolve(
        status=JobStatus.PENDING,
        current_stage=None,
        progress=0.0,
        stage_units={},
        error=None,
        error_message=None,
        completed_at=None,
    )


def _uuid() -> str:
    return str(uuid.uuid4())

"""The scans every worker runs (harmless when several run at once: each job is handled under
its lock, so two scanners never double a change): jobs whose worker stopped renewing its
lease, jobs silent past ``stall_after``, and retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.errors import lost_worker_error
from stagecoach.domain.job_update import Report, apply_report
from stagecoach.domain.records import HistoryEntry
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.queue import FAILED, LEASE_EXPIRIES, STALLS, reset_artifact
from stagecoach.settings import Settings
from stagecoach.storage.base import Storage
from stagecoach.store import jobs as jobs_store
from stagecoach.store import queue as store
from stagecoach.store import workers as workers_store

log = logging.getLogger("stagecoach.queue")


@dataclass
class CleanupReport:
    jobs: list[str] = field(default_factory=list)
    files: int = 0
    results: int = 0


class Housekeeping:
    def __init__(self, ctx: ServiceContext, storage: Storage) -> None:
        self.ctx = ctx
        self.storage = storage

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def requeue_expired(self) -> list[str]:
        """Jobs whose worker stopped renewing its lease: back to pending (or failed when out
        of attempts). Safe to run from every worker at once."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            ids = store.expired_lease_ids(conn, now)
        done = []
        for job_id in ids:
            with self.ctx.db.write() as conn:
                job = store.lock_job(conn, job_id)
                if job is None or not rules.lease_expired(job, now):
                    continue
                out_of_attempts = job.attempts >= job.max_attempts
                if out_of_attempts:
                    err = lost_worker_error()
                    report = Report(
                        status=JobStatus.FAILED,
                        error=err,
                        history_message="worker lost; no attempts left, failed",
                    )
                else:
                    report = Report(
                        status=JobStatus.PENDING, history_message="worker lost, requeued"
                    )
                outcome = apply_report(job, report, now)
                new = outcome.job.evolve(
                    lease_token=job.lease_token + 1,
                    worker_id=None,
                    lease_expires_at=None,
                    message=None,
                    run_after=None,
                )
                for a in jobs_store.job_artifacts(conn, job_id):
                    if a.status is JobStatus.COMPLETED:
                        continue
                    if out_of_attempts:
                        store.save_artifact_fenced(
                            conn,
                            a,
                            a.evolve(
                                status=JobStatus.FAILED,
                                error=err.to_dict(),
                                error_message=err.message,
                            ),
                        )
                    elif a.status is JobStatus.PROCESSING:
                        store.save_artifact_fenced(conn, a, reset_artifact(a))
                store.save_job_fenced(conn, job, new, job.lease_token)
                jobs_store.append_history(
                    conn,
                    [
                        h.evolve(kind="requeue" if not out_of_attempts else "lost")
                        for h in outcome.history
                    ],
                )
                store.bump_counter(conn, LEASE_EXPIRIES)
                if out_of_attempts:
                    store.bump_counter(conn, FAILED)
                jobs_store.record_change(conn, new, now)
            done.append(job_id)
            log.warning(
                "lease expired: %s",
                "failed" if out_of_attempts else "requeued",
                extra={"job_id": job_id, "worker_id": job.worker_id, "attempt": job.attempts},
            )
        return done

    def flag_stalls(self) -> list[str]:
        now = self.ctx.clock()
        stall_after = self.settings.stall_after
        with self.ctx.db.read() as conn:
            ids = store.silent_job_ids(conn, now - timedelta(seconds=stall_after), now)
        flagged = []
        for job_id in ids:
            with self.ctx.db.write() as conn:
                job = store.lock_job(conn, job_id)
                if job is None or job.stalled or not rules.is_stalled(job, now, stall_after):
                    continue
                assert job.last_progress_at is not None
                quiet = (now - job.last_progress_at).total_seconds()
                text = (
                    f"no progress for {quiet:.0f} s in stage {job.current_stage or '?'} "
                    f"while worker {job.worker_id} is alive; the stage may be stuck on this "
                    "file: cancel and retry it, or look at that worker's log for this job id"
                )
                new = job.evolve(stalled=True, updated_at=now, version=job.version + 1)
                jobs_store.save_job(conn, job, new)
                jobs_store.append_history(
                    conn,
                    [
                        HistoryEntry(
                            job_id=job_id,
                            at=now,
                            kind="stall",
                            status=str(job.status),
                            stage=job.current_stage,
                            attempt=job.attempts,
                            message=text,
                        )
                    ],
                )
                store.bump_counter(conn, STALLS)
                jobs_store.record_change(conn, new, now)
            flagged.append(job_id)
            log.warning(
                "job stalled",
                extra={"job_id": job_id, "worker_id": job.worker_id, "stage": job.current_stage},
            )
        return flagged

    def cleanup(self, *, dry_run: bool = False) -> CleanupReport:
        """Retention: ended jobs older than ``retention_days`` keep a summary row only."""
        now = self.ctx.clock()
        cutoff = now - timedelta(days=self.settings.retention_days)
        report = CleanupReport()
        while True:
            with self.ctx.db.read() as conn:
                batch = [j for j in store.ended_before(conn, cutoff) if j.job_id not in report.jobs]
                if dry_run:
                    for j in batch:
                        report.jobs.append(j.job_id)
                        report.results += len(store.job_result_paths(conn, j.job_id))
                        report.files += len(store.files_only_in(conn, j.job_id))
            if dry_run or not batch:
                break
            for j in batch:
                blobs: list[str] = []
                with self.ctx.db.write() as conn:
                    job = store.lock_job(conn, j.job_id)
                    if (
                        job is None
                        or job.expired_at is not None
                        or job.finished_at is None
                        or job.finished_at >= cutoff
                    ):
                        continue
                    paths = store.job_result_paths(conn, job.job_id)
                    files = store.files_only_in(conn, job.job_id)
                    store.expire_job(conn, job.job_id, now, [f["file_id"] for f in files])
                    jobs_store.record_change(conn, job, now)
                    blobs = paths + [f["stored_path"] for f in files if f["stored_path"]]
                for key in blobs:  # after commit: a crash here leaves orphans, never holes
                    self.storage.delete(key)
                report.jobs.append(j.job_id)
                report.results += len(paths)
                report.files += len(files)
                log.info("job expired", extra={"job_id": j.job_id, "blobs": len(blobs)})
        if not dry_run:
            with self.ctx.db.write() as conn:
                store.prune_change_feed(conn, now - timedelta(days=1))
                workers_store.prune_workers(conn, now - timedelta(days=1))
        return report

"""The scans every worker runs (harmless when several run at once: each file is handled under
its job's lock, so two scanners never double a change): files whose worker stopped renewing
its lease, files silent past ``stall_after``, and retention. Each change goes through the
unit of work."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.errors import lost_worker_error
from stagecoach.domain.queue_rules import reset_artifact
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.estimates import Estimates
from stagecoach.services.queue import FAILED, LEASE_EXPIRIES, STALLS, checkpoint_key
from stagecoach.services.unit_of_work import UnitOfWork
from stagecoach.settings import Settings
from stagecoach.storage.base import Storage
from stagecoach.store import queue as store
from stagecoach.store import workers as workers_store

log = logging.getLogger("stagecoach.queue")


@dataclass
class CleanupReport:
    jobs: list[str] = field(default_factory=list)
    files: int = 0
    results: int = 0


class Housekeeping:
    def __init__(self, ctx: ServiceContext, storage: Storage, estimates: Estimates) -> None:
        self.ctx = ctx
        self.storage = storage
        self.uow = UnitOfWork(ctx, estimates)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def requeue_expired(self) -> list[str]:
        """Files whose worker stopped renewing its lease: waiting again (or failed when out
        of attempts); their dead worker's scratch directory goes. Safe to run from every
        worker at once. Returns the artifact ids handled."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            found = store.expired_leases(conn, now)
        done = []
        for job_id, artifact_id in found:
            with self.uow.change(job_id) as ch:
                a = ch.artifact(artifact_id)
                if not rules.lease_expired(a, now):
                    continue
                if a.attempts >= a.max_attempts:
                    err = lost_worker_error()
                    new = a.evolve(
                        status=JobStatus.FAILED,
                        error=err.to_dict(),
                        error_message=err.message,
                        worker_id=None,
                        lease_expires_at=None,
                        lease_token=a.lease_token + 1,
                        stalled=False,
                    )
                    ch.note(
                        "lost", f"{a.filename}: worker lost; no attempts left, failed", artifact=new
                    )
                    ch.count(FAILED)
                else:
                    # Its bar stays where it was: the next attempt resumes from its checkpoint.
                    new = reset_artifact(a).evolve(
                        lease_token=a.lease_token + 1, progress=a.progress
                    )
                    ch.note(
                        "requeue",
                        f"{a.filename}: worker lost, requeued",
                        artifact=new,
                        attempt=a.attempts,
                    )
                ch.put(new)
                ch.count(LEASE_EXPIRIES)
                ch.log(
                    "lease expired: %s"
                    % ("failed" if new.status is JobStatus.FAILED else "requeued"),
                    artifact_id=artifact_id,
                    worker_id=a.worker_id,
                    attempt=a.attempts,
                )
            remove_work_dirs(self.settings.data_dir, artifact_id)
            done.append(artifact_id)
        return done

    def flag_stalls(self) -> list[str]:
        """Files processing under a live lease with no progress for ``stall_after``: flagged
        (a flag, not a status), with what to do. Returns the artifact ids flagged."""
        now = self.ctx.clock()
        stall_after = self.settings.stall_after
        with self.ctx.db.read() as conn:
            found = store.silent_artifacts(conn, now - timedelta(seconds=stall_after), now)
        flagged = []
        for job_id, artifact_id in found:
            with self.uow.change(job_id) as ch:
                a = ch.artifact(artifact_id)
                if a.stalled or not rules.is_stalled(a, now, stall_after):
                    continue
                assert a.last_progress_at is not None
                quiet = (now - a.last_progress_at).total_seconds()
                text = (
                    f"{a.filename}: no progress for {quiet:.0f} s in stage "
                    f"{a.current_stage or '?'} while worker {a.worker_id} is alive; the stage "
                    "may be stuck on this file: cancel and retry it, or look at that worker's "
                    "log for this job id"
                )
                new = a.evolve(stalled=True)
                ch.put(new)
                ch.note("stall", text, artifact=new)
                ch.count(STALLS)
                ch.log("file stalled", artifact_id=artifact_id, worker_id=a.worker_id)
            flagged.append(artifact_id)
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
                paths: list[str] = []
                files: list[dict[str, Any]] = []
                with self.uow.change(j.job_id) as ch:
                    job = ch.job
                    if (
                        job.expired_at is not None
                        or job.finished_at is None
                        or job.finished_at >= cutoff
                    ):
                        continue
                    paths = store.job_result_paths(ch.conn, job.job_id)
                    files = store.files_only_in(ch.conn, job.job_id)
                    store.expire_details(ch.conn, job.job_id, [f["file_id"] for f in files])
                    for a in ch.files:
                        ch.put(a.evolve(stage_units={}, error=None))
                    ch.set_job(job.evolve(expired_at=now))
                    blobs = paths + [f["stored_path"] for f in files if f["stored_path"]]
                    blobs += [checkpoint_key(a.artifact_id) for a in ch.files]
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


def work_dir_name(artifact_id: str, token: int) -> str:
    """A claim's scratch directory under <data_dir>/work: the file and the claim's token."""
    return f"{artifact_id}-{token}"


def remove_work_dirs(data_dir: Path, artifact_id: str, keep: str | None = None) -> None:
    """Remove the scratch directories earlier claims of a file left on this machine (a worker
    killed mid-stage leaves its decoded audio behind)."""
    root = data_dir / "work"
    if not root.is_dir():
        return
    for d in root.glob(f"{artifact_id}-*"):
        if d.name != keep:
            shutil.rmtree(d, ignore_errors=True)

"""Tracking: create jobs, apply status reports, answer polls, list, timeline, cancel, retry.

Every change to a job goes through ``_change``: lock the job, apply the pure rules of
``domain.job_update``, write the job, its timeline entries and a change-feed row in one
transaction. Nothing is half-written: any refusal raises before the transaction commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from sqlalchemy.engine import Connection

from stagecoach.domain.contract import PipelineWords, status_document
from stagecoach.domain.errors import JobError
from stagecoach.domain.job_update import Outcome, Report, apply_report
from stagecoach.domain.records import Artifact, HistoryEntry, Job, User
from stagecoach.domain.status import IllegalTransition, JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import Conflict, Invalid, NotFound
from stagecoach.services.estimates import Estimates
from stagecoach.store import files as files_store
from stagecoach.store import jobs as store
from stagecoach.store.fast_reads import FastReads

log = logging.getLogger("stagecoach.tracking")


@dataclass(frozen=True)
class NewJob:
    related_file_ids: list[str]
    pipeline: str | None = None
    stages: list[str] | None = None
    case_name: str | None = None
    parent_job_id: str | None = None
    duration_total: float | None = None
    unit: str | None = None
    claimable: bool = False


class Tracking:
    def __init__(self, ctx: ServiceContext, estimates: Estimates) -> None:
        self.ctx = ctx
        self.estimates = estimates

    # --- create ------------------------------------------------------------------------
    def create_job(
        self, owner: User, new: NewJob, conn: Connection | None = None
    ) -> dict[str, Any]:
        if conn is not None:
            job, arts = self._insert_job(conn, owner, new)
            return self._document(conn, job, arts)
        with self.ctx.db.write() as c:
            job, arts = self._insert_job(c, owner, new)
            return self._document(c, job, arts)

    def _insert_job(self, conn: Connection, owner: User, new: NewJob) -> tuple[Job, list[Artifact]]:
        now = self.ctx.clock()
        if new.parent_job_id is not None:
            parent = store.get_visible_job(conn, owner, new.parent_job_id)
            if parent is None:
                raise NotFound(f"parent job {new.parent_job_id} not found")
        seen = set()
        file_rows = []
        for fid in new.related_file_ids:
            if fid in seen:
                raise Invalid(f"file {fid} is listed twice")
            seen.add(fid)
            f = files_store.get_visible_file(conn, owner, fid)
            if f is None:
                raise NotFound(f"file {fid} not found")
            file_rows.append(f)
        job = Job(
            job_id=str(uuid.uuid4()),
            owner_id=owner.user_id,
            status=JobStatus.PENDING,
            created_at=now,
            updated_at=now,
            pipeline=new.pipeline,
            claimable=new.claimable,
            stages=list(new.stages or []),
            case_name=new.case_name,
            parent_job_id=new.parent_job_id,
            duration_total=new.duration_total,
            unit=new.unit,
            max_attempts=self.ctx.settings.max_attempts,
            current_stage=(new.stages[0] if new.stages else None),
        )
        arts = [
            Artifact(
                artifact_id=str(uuid.uuid4()),
                job_id=job.job_id,
                file_id=f["file_id"],
                position=i,
                filename=f["original_name"],
                file_type=f["type"],
                status=JobStatus.PENDING,
            )
            for i, f in enumerate(file_rows)
        ]
        job = self.estimates.refresh(conn, job, arts)
        store.insert_job(conn, job)
        for a in arts:
            store.insert_artifact(conn, a)
        store.append_history(
            conn,
            [
                HistoryEntry(
                    job_id=job.job_id,
                    at=now,
                    kind="created",
                    status=str(job.status),
                    stage=job.current_stage,
                    attempt=0,
                    message="job created",
                )
            ],
        )
        store.record_change(conn, job, now)
        log.info("job created", extra={"job_id": job.job_id, "pipeline": job.pipeline})
        return job, arts

    # --- read --------------------------------------------------------------------------
    def _visible(self, conn: Connection, viewer: User, job_id: str) -> Job:
        job = store.get_visible_job(conn, viewer, job_id)
        if job is None:
            # Another user's job answers exactly as a missing one.
            raise NotFound(f"job {job_id} not found")
        return job

    def _document(self, conn: Connection, job: Job, arts: list[Artifact] | None = None) -> dict:
        if arts is None:
            arts = store.job_artifacts(conn, job.job_id)
        pos = store.queue_position(conn, job) if job.claimable else None
        return status_document(
            job,
            arts,
            self.ctx.clock(),
            stall_after=self.ctx.settings.stall_after,
            queue_position=pos,
            words=self.words(job.pipeline),
        )

    def words(self, pipeline: str | None) -> PipelineWords:
        p = self.estimates.pipelines.get(pipeline or "")
        if p is None:
            return PipelineWords()
        return PipelineWords(p.file_types[0] if p.file_types else None, p.complete_message)

    @cached_property
    def _fast(self) -> FastReads:
        fast = FastReads(self.ctx.db.engine)
        self.ctx.db.on_dispose(fast.close)
        return fast

    def status(self, viewer: User, job_id: str) -> dict[str, Any]:
        """The status document: the poll's path, two reads and no transaction."""
        found = self._fast.job_and_artifacts(viewer, job_id)
        if found is None:
            raise NotFound(f"job {job_id} not found")
        job, arts = found
        pos = None
        if job.claimable and job.status is JobStatus.PENDING:
            with self.ctx.db.read_each() as conn:
                pos = store.queue_position(conn, job)
        return status_document(
            job,
            arts,
            self.ctx.clock(),
            stall_after=self.ctx.settings.stall_after,
            queue_position=pos,
            words=self.words(job.pipeline),
        )

    def get_job(self, viewer: User, job_id: str) -> Job:
        with self.ctx.db.read() as conn:
            return self._visible(conn, viewer, job_id)

    def status_counts(self, viewer: User) -> dict[str, int]:
        """Jobs the viewer may see, by status: all of them, not a page of them."""
        with self.ctx.db.read() as conn:
            return store.status_counts(conn, viewer)

    def list_jobs(
        self,
        viewer: User,
        *,
        status: str | None = None,
        case_name: str | None = None,
        owner_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        with self.ctx.db.read() as conn:
            jobs, total = store.list_jobs(
                conn,
                viewer,
                status=status,
                case_name=case_name,
                owner_id=owner_id,
                limit=limit,
                offset=offset,
            )
            arts = store.artifacts_for_jobs(conn, [j.job_id for j in jobs])
            now = self.ctx.clock()
            docs = [
                status_document(
                    j,
                    arts[j.job_id],
                    now,
                    stall_after=self.ctx.settings.stall_after,
                    words=self.words(j.pipeline),
                )
                for j in jobs
            ]
        return docs, total

    def timeline(self, viewer: User, job_id: str) -> list[HistoryEntry]:
        with self.ctx.db.read() as conn:
            self._visible(conn, viewer, job_id)
            return store.timeline(conn, job_id)

    # --- change ------------------------------------------------------------------------
    def report(self, viewer: User, job_id: str, report: Report) -> tuple[dict[str, Any], bool]:
        """Apply a status report from the job's owner (an outside reporter, PATCH)."""
        # Going back to pending from failed is a retry, with the retry button's effects.
        outcome = self._change(
            viewer, job_id, lambda job: report, on_retry=self._reset_failed_artifacts
        )
        with self.ctx.db.read() as conn:
            return self._document(conn, outcome.job), outcome.changed

    def cancel(self, viewer: User, job_id: str) -> dict[str, Any]:
        def build(job: Job) -> Report:
            if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
                raise Conflict(
                    f"only pending or processing jobs can be cancelled; job is '{job.status}'"
                )
            return Report(status=JobStatus.CANCELLED, history_message="cancelled by user")

        outcome = self._change(viewer, job_id, build)
        with self.ctx.db.read() as conn:
            return self._document(conn, outcome.job)

    def retry(self, viewer: User, job_id: str) -> dict[str, Any]:
        def build(job: Job) -> Report:
            if job.status is not JobStatus.FAILED:
                raise Conflict(f"only failed jobs can be retried; job is '{job.status}'")
            if job.attempts >= job.max_attempts:
                raise Conflict(
                    f"job has used all {job.max_attempts} attempts; upload the file again"
                )
            return Report(status=JobStatus.PENDING, history_message="retry requested by user")

        outcome = self._change(viewer, job_id, build, on_retry=self._reset_failed_artifacts)
        with self.ctx.db.read() as conn:
            return self._document(conn, outcome.job)

    def _reset_failed_artifacts(self, conn: Connection, job: Job) -> None:
        # A retry reruns only what failed; completed artifacts keep their results.
        self.ctx.announce_work(conn)
        for a in store.job_artifacts(conn, job.job_id):
            if a.status is not JobStatus.COMPLETED:
                store.save_artifact(
                    conn,
                    a,
                    a.evolve(
                        status=JobStatus.PENDING,
                        error=None,
                        error_message=None,
                        progress=0.0 if a.status is not JobStatus.COMPLETED else a.progress,
                    ),
                )

    def _change(
        self,
        viewer: User,
        job_id: str,
        build: Callable[[Job], Report],
        on_retry: Callable[[Connection, Job], None] | None = None,
    ) -> Outcome:
        with self.ctx.db.write() as conn:
            self._visible(conn, viewer, job_id)
            job = store.get_job(conn, job_id, for_update=True)
            assert job is not None
            report = build(job)
            now = self.ctx.clock()
            try:
                outcome = apply_report(job, report, now)
            except IllegalTransition as exc:
                raise Conflict(str(exc)) from exc
            if outcome.changed:
                new_attempt = outcome.job.attempts != job.attempts
                outcome = replace(
                    outcome,
                    job=self.estimates.refresh(
                        conn, outcome.job, new_attempt=new_attempt, shown_at=job.updated_at
                    ),
                )
                store.save_job(conn, job, outcome.job)
                store.append_history(conn, outcome.history)
                retried = outcome.job.status is JobStatus.PENDING and job.status is JobStatus.FAILED
                if retried and on_retry is not None:
                    on_retry(conn, outcome.job)
                if (
                    outcome.job.status is JobStatus.CANCELLED
                    and job.status is not JobStatus.CANCELLED
                ):
                    # Files not done yet will not be; a worker running one stops within 2 s.
                    for a in store.job_artifacts(conn, job_id):
                        if a.status in (JobStatus.PENDING, JobStatus.PROCESSING):
                            store.save_artifact(conn, a, a.evolve(status=JobStatus.CANCELLED))
                if outcome.history or outcome.job.version != job.version:
                    store.record_change(conn, outcome.job, now)
                for h in outcome.history:
                    log.info(
                        "job %s",
                        h.kind,
                        extra={"job_id": job_id, "status": h.status, "stage": h.stage},
                    )
        return outcome


def error_from_body(body: dict[str, Any] | None) -> JobError | None:
    return JobError.from_dict(body) if body else None

"""Tracking: create jobs, apply outside reports, answer polls, list, timeline, cancel, retry.

Every change goes through the unit of work (services/unit_of_work.py); every status document
is built by ``Tracking.build``. Nothing is half-written: any refusal raises before the
transaction commits.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from stagecoach.domain.contract import (
    CLOCK_FIELDS,
    Clock,
    PipelineWords,
    clock_fields,
    document_at,
    settled_document,
)
from stagecoach.domain.errors import JobError
from stagecoach.domain.job_update import Outcome, Report, apply_report
from stagecoach.domain.queue_rules import reset_artifact
from stagecoach.domain.records import Artifact, HistoryEntry, Job, User
from stagecoach.domain.status import ACTIVE, IllegalTransition, JobStatus, can_retry
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import Conflict, Invalid, NotFound
from stagecoach.services.estimates import Estimates
from stagecoach.services.record_cache import RecordCache, stamp_of
from stagecoach.services.unit_of_work import JobChange, UnitOfWork
from stagecoach.store import files as files_store
from stagecoach.store import jobs as store

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
        self.uow = UnitOfWork(ctx, estimates)
        self.polled = RecordCache(ctx.settings.status_cache_jobs)
        ctx.on_jobs_changed.append(self.polled.forget)

    # --- create ------------------------------------------------------------------------
    def create_job(
        self, owner: User, new: NewJob, conn: Connection | None = None
    ) -> dict[str, Any]:
        """A new job; with ``conn``, inside the caller's write transaction (an upload's
        first file). The document is built outside the write lock."""
        if conn is not None:
            job, arts = self._insert_job(conn, owner, new)
            return self.build(job, arts)
        self.estimates.prepare(queue=True)
        with self.ctx.db.write() as c:
            job, arts = self._insert_job(c, owner, new)
        with self.ctx.db.read() as c:
            return self.document(c, job, arts)

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
        max_attempts = self.ctx.settings.max_attempts
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
            max_attempts=max_attempts,
            current_stage=(new.stages[0] if new.stages else None),
        )
        arts = [
            new_artifact(job, dict(f), i, pipeline=new.pipeline if new.claimable else None)
            for i, f in enumerate(file_rows)
        ]
        if new.claimable and new.pipeline:
            # Files given by id, already stored: the workers of their pipeline take them now
            # (a worker knows the stages of a pipeline this process may not have).
            known = self.estimates.pipelines.get(new.pipeline)
            stages = known.stage_names if known else []
            arts = [a.evolve(stages=stages, claimable=True, queued_at=now) for a in arts]
        return self.uow.insert(conn, job, arts, "job created").job, arts

    # --- read: the status document, built in one place ---------------------------------
    def _visible(self, conn: Connection, viewer: User, job_id: str) -> Job:
        job = store.get_visible_job(conn, viewer, job_id)
        if job is None:
            # Another user's job answers exactly as a missing one.
            raise NotFound(f"job {job_id} not found")
        return job

    def build(
        self,
        job: Job,
        arts: list[Artifact],
        *,
        queue_position: int | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The status document of ``job``: the one builder the poll, the job, the list, the
        live events and the CLI all show."""
        return self._at(self._settled(job, arts, queue_position), job, now or self.ctx.clock())

    def _settled(
        self, job: Job, arts: list[Artifact], queue_position: int | None
    ) -> dict[str, Any]:
        """``build``'s first half: what does not move with the clock."""
        return settled_document(
            job, arts, queue_position=queue_position, words=self.words(job, arts)
        )

    def _at(self, settled: dict[str, Any], job: Job, now: datetime) -> dict[str, Any]:
        """``build``'s second half: the fields that move with the clock, at ``now``."""
        return document_at(settled, job, now, stall_after=self.ctx.settings.stall_after)

    def document(
        self, conn: Connection, job: Job, arts: list[Artifact] | None = None
    ) -> dict[str, Any]:
        """``build`` over what ``conn`` reads: the job's files and its place in the queue."""
        if arts is None:
            arts = store.job_artifacts(conn, job.job_id)
        return self.build(job, arts, queue_position=store.queue_position(conn, job))

    def documents(self, conn: Connection, jobs: list[Job]) -> list[dict[str, Any]]:
        """``document`` for many jobs, their files read at once (a queue position is read
        for waiting jobs only)."""
        arts = store.artifacts_for_jobs(conn, [j.job_id for j in jobs])
        return [
            self.build(j, arts[j.job_id], queue_position=store.queue_position(conn, j))
            for j in jobs
        ]

    def words(self, job: Job, arts: list[Artifact]) -> PipelineWords:
        """What the job's pipeline says of itself; a job of several pipelines says little."""
        names = {a.pipeline for a in arts if a.pipeline} or {job.pipeline or ""}
        if len(names) != 1:
            return PipelineWords()
        p = self.estimates.pipelines.get(names.pop() or "")
        if p is None:
            return PipelineWords()
        return PipelineWords(p.file_types[0] if p.file_types else None, p.complete_message)

    def status(self, viewer: User, job_id: str) -> dict[str, Any]:
        """The status document, as the poll reads it."""
        doc = self.poll(viewer, job_id)[1]
        assert doc is not None  # built whenever no If-None-Match is given
        return doc

    def poll(
        self, viewer: User, job_id: str, if_none_match: str | None = None
    ) -> tuple[str, dict[str, Any] | None]:
        """The poll: the status document and its ETag, read without a transaction and with
        no write. When ``if_none_match`` holds the current ETag the answer is ``(etag,
        None)``: one narrow read, nothing built. A job polled before is checked by that same
        narrow read and built from the records kept then (``self.polled``)."""
        epoch = self.polled.epoch
        etag, read = self._poll_read(viewer, job_id, if_none_match, epoch)
        if read is None:
            return etag, None
        job, arts, pos, now, from_kept = read
        self.polled.keep(job, arts, from_kept=from_kept, position=pos, epoch=epoch)
        return etag, self.build(job, arts, queue_position=pos, now=now)

    def poll_encoded(
        self, viewer: User, job_id: str, if_none_match: str | None = None
    ) -> tuple[str, bytes | None]:
        """``poll``, its document encoded and kept with the records for ``poll_kept``."""
        epoch = self.polled.epoch
        etag, read = self._poll_read(viewer, job_id, if_none_match, epoch)
        if read is None:
            return etag, None
        job, arts, pos, now, from_kept = read
        part, clock = _settled_part(self._settled(job, arts, pos)), Clock.of(job)
        body = self._encoded_at(part, clock, now)
        second = _second(job.status, now)
        self.polled.keep(
            job,
            arts,
            from_kept=from_kept,
            position=pos,
            epoch=epoch,
            built=(second, body),
            settled=(clock, part) if second is not None else None,
        )
        return etag, body

    def poll_kept(
        self, viewer: User, sees: Callable[[str], bool], job_id: str, if_none_match: str | None
    ) -> tuple[str, bytes | None] | None:
        """``poll_encoded`` from memory, with no I/O (it runs on the event loop): the answer
        if the change feed vouches for the job's kept records and ``sees`` (the viewer's
        cached visibility) lets the viewer see its owner, else None."""
        kept = self.polled.vouched(job_id)
        if kept is None or not sees(kept.owner_id):
            return None  # the database answers, a job of someone else's as a missing one
        now = self.ctx.clock()
        etag = status_etag(viewer, job_id, *kept.stamp, now)
        if if_none_match and etag_matches(if_none_match, etag):
            return etag, None
        second = _second(kept.stamp[2], now)
        built = kept.built
        if built is None or built[0] != second:
            if kept.settled is not None:  # a running job in a new second: its clock moved
                clock, part = kept.settled
            else:
                job, arts = kept.load()
                part = _settled_part(self._settled(job, arts, kept.position))
                clock = Clock.of(job)
            built = (second, self._encoded_at(part, clock, now))
            kept.built = built
        return etag, built[1]

    def _encoded_at(self, part: bytes, clock: Clock, now: datetime) -> bytes:
        """The poll's document encoded: its settled part (``_settled_part``), then the fields
        that move with the clock, as of ``now`` (``build`` as JSON, in the same order)."""
        fields = clock_fields(clock, now, stall_after=self.ctx.settings.stall_after)
        return part[:-1] + b"," + orjson.dumps(fields)[1:]

    def feed_read(self) -> None:
        """The change-feed reader read the feed through (it calls this in its thread): the
        kept records may be vouched for, and those of jobs still polled are renewed before
        their vouching lapses (``RecordCache.due``), in one read."""
        self.polled.feed_read()
        now = time.monotonic()
        asked = self.polled.due(now)
        if not asked:
            return
        try:
            with self.ctx.db.read_each() as conn:
                found = store.job_stamps(conn, [job_id for job_id, _ in asked])
        except Exception:  # the reader goes on; these jobs' next polls check their stamps
            log.exception("renewing the kept status records failed")
            return
        self.polled.renew(asked, found, now)

    def _poll_read(
        self, viewer: User, job_id: str, if_none_match: str | None, epoch: int
    ) -> tuple[str, tuple[Job, list[Artifact], int | None, datetime, bool] | None]:
        """The reads of a poll: ``(etag, None)`` when ``if_none_match`` matched, else the
        etag and (job, files, place in the queue, now, whether the records were kept)."""
        with self.ctx.db.read_each() as conn:
            cached = None
            if if_none_match or job_id in self.polled:
                stamp = store.visible_job_stamp(conn, viewer, job_id)
                if stamp is None:
                    raise NotFound(f"job {job_id} not found")
                if if_none_match:
                    etag = status_etag(viewer, job_id, *stamp, self.ctx.clock())
                    if etag_matches(if_none_match, etag):
                        self.polled.revouch(job_id, stamp, epoch)
                        return etag, None
                cached = self.polled.get(job_id, stamp)
            if cached is None:
                job = self._visible(conn, viewer, job_id)
                arts = store.job_artifacts(conn, job_id)
            else:
                job, arts = cached
            pos = store.queue_position(conn, job)
        now = self.ctx.clock()
        read = (job, arts, pos, now, cached is not None)
        return status_etag(viewer, job_id, *stamp_of(job), now), read

    def get_job(self, viewer: User, job_id: str) -> Job:
        with self.ctx.db.read() as conn:
            return self._visible(conn, viewer, job_id)

    def job_document(self, viewer: User, job_id: str) -> dict[str, Any]:
        with self.ctx.db.read() as conn:
            return self.document(conn, self._visible(conn, viewer, job_id))

    def documents_by_id(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """job_id -> status document, for the jobs that still exist (live events)."""
        with self.ctx.db.read() as conn:
            return {d["job_id"]: d for d in self.documents(conn, store.jobs_by_id(conn, job_ids))}

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
            return self.documents(conn, jobs), total

    def timeline(self, viewer: User, job_id: str) -> list[HistoryEntry]:
        with self.ctx.db.read() as conn:
            self._visible(conn, viewer, job_id)
            return store.timeline(conn, job_id)

    # --- change ------------------------------------------------------------------------
    def report(self, viewer: User, job_id: str, report: Report) -> tuple[dict[str, Any], bool]:
        """Apply a status report from the job's owner (an outside reporter, PATCH). Jobs that
        stagecoach's own workers run take no outside reports."""
        with self.uow.change(job_id, viewer=viewer) as ch:
            job = ch.job
            if job.claimable:
                raise Conflict(
                    "this job is run by stagecoach's own workers, which report on it; only "
                    "jobs created with POST /api/v1/jobs accept status and progress reports. "
                    "Use cancel or retry to act on it."
                )
            outcome = self._apply(job, report, ch.now)
            ch.set_job(outcome.job)
            ch.history.extend(outcome.history)
            ch.new_attempt = outcome.job.attempts != job.attempts
        with self.ctx.db.read() as conn:
            return self.document(conn, ch.job), outcome.changed

    def cancel(self, viewer: User, job_id: str) -> dict[str, Any]:
        """Cancel a job: every file not done yet stops (a worker running one within 2 s)."""
        with self.uow.change(job_id, viewer=viewer) as ch:
            job = ch.job
            if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
                raise Conflict(
                    f"only pending or processing jobs can be cancelled; job is '{job.status}'"
                )
            outcome = self._apply(
                job, Report(status=JobStatus.CANCELLED, history_message="cancelled by user"), ch.now
            )
            ch.set_job(outcome.job)
            ch.history.extend(outcome.history)
            for a in ch.files:
                if a.status in (JobStatus.PENDING, JobStatus.PROCESSING):
                    ch.put(a.evolve(status=JobStatus.CANCELLED, stalled=False))
        with self.ctx.db.read() as conn:
            return self.document(conn, ch.job)

    def retry(self, viewer: User, job_id: str) -> dict[str, Any]:
        """Retry a failed or partly completed job: only its failed files run again; the others
        keep their results, timings and completion."""
        with self.uow.change(job_id, viewer=viewer) as ch:
            job = ch.job
            if job.claimable and ch.files:
                self._retry_files(ch)
            else:
                ok, why = can_retry(job.status, job.attempts, job.max_attempts, job.outcome)
                if not ok:
                    raise Conflict(why)
                outcome = self._apply(
                    job,
                    Report(status=JobStatus.PENDING, history_message="retry requested by user"),
                    ch.now,
                )
                ch.set_job(outcome.job)
                ch.history.extend(outcome.history)
        with self.ctx.db.read() as conn:
            return self.document(conn, ch.job)

    def _retry_files(self, ch: JobChange) -> None:
        job = ch.job
        ok, why = can_retry(job.status, 0, 1, job.outcome)
        if not ok:
            raise Conflict(why)
        failed = [a for a in ch.files if a.status in (JobStatus.FAILED, JobStatus.CANCELLED)]
        again = [a for a in failed if a.attempts < a.max_attempts]
        if not again:
            raise Conflict(
                f"every failed file has used all {job.max_attempts} attempts; upload the file again"
            )
        for a in again:
            ch.put(
                reset_artifact(a).evolve(
                    claimable=bool(a.pipeline), queued_at=ch.now, processing_stages={}
                )
            )
        names = ", ".join(a.filename for a in again)
        ch.note(
            "retry",
            f"retry requested by user: {len(again)} file{'s' if len(again) != 1 else ''} "
            f"again ({names})",
            status=str(JobStatus.PENDING),
        )
        ch.new_attempt = True

    def _apply(self, job: Job, report: Report, now: datetime) -> Outcome:
        try:
            return apply_report(job, report, now)
        except IllegalTransition as exc:
            raise Conflict(str(exc)) from exc


def new_artifact(job: Job, f: Mapping[str, Any], position: int, pipeline: str | None) -> Artifact:
    """A file of ``job`` as it starts: waiting, not yet claimable."""
    return Artifact(
        artifact_id=str(uuid.uuid4()),
        job_id=job.job_id,
        file_id=f["file_id"],
        position=position,
        filename=f["original_name"],
        file_type=f["type"],
        status=JobStatus.PENDING,
        pipeline=pipeline,
        max_attempts=job.max_attempts,
        duration_seconds=f.get("duration_seconds"),
        page_count=f.get("page_count"),
        row_count=f.get("row_count"),
        size=f.get("size"),
    )


def _settled_part(settled: dict[str, Any]) -> bytes:
    """A settled document encoded without the fields that move with the clock (its last)."""
    return orjson.dumps({k: v for k, v in settled.items() if k not in CLOCK_FIELDS})


def _second(status: JobStatus, now: datetime) -> int | None:
    """The second a document built ``now`` holds for: a waiting or running job's moves with
    the clock (as its ETag does), a settled job's does not."""
    return int(now.timestamp()) if status in ACTIVE else None


def error_from_body(body: dict[str, Any] | None) -> JobError | None:
    return JobError.from_dict(body) if body else None


def status_etag(
    viewer: User, job_id: str, version: int, updated_at: datetime, status: JobStatus, now: datetime
) -> str:
    """The poll's strong ETag: the job's version and ``updated_at`` (every change of the job
    or one of its files bumps both), and the viewer. A waiting or running job's document also
    moves with the clock (its ETA counts down, it may stall, its place in the queue moves as
    other jobs are taken), so its ETag also holds the current second."""
    parts = [job_id, str(version), updated_at.isoformat(), viewer.user_id, str(viewer.role)]
    if status in ACTIVE:
        parts.append(str(int(now.timestamp())))
    return '"' + hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (or is ``*``); weak tags compare by
    their opaque part, as RFC 9110 asks of If-None-Match."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False

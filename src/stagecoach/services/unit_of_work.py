"""The one write path: every change to a job or its files goes through a ``JobChange``.

A writer opens a change (the job locked, its files read, a worker's fence checked), states
what it changes — files, the job's own fields for jobs reported from outside, timeline
notes, result rows, counters — and the unit of work does the rest in one transaction:

1. saves the files that changed, the fenced one only while it still carries its token;
2. learns stage rates from the stages that finished;
3. rolls the job up from its files (for jobs stagecoach's workers run) and re-estimates it
   from the per-process caches (no table reads under the lock);
4. bumps the job's version and ``updated_at``, and saves it;
5. appends the timeline (with an entry for the job's own change of status);
6. writes the change feed (live pages, other processes);
7. announces work when a file became claimable (this process's idle workers and, on
   PostgreSQL, every other process's);
8. and, once committed, logs.
Nothing is half-written: a refusal raises before the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from stagecoach.domain.filenames import download_name
from stagecoach.domain.records import Artifact, HistoryEntry, Job, User
from stagecoach.domain.rollup import roll_up, status_note
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import NotFound
from stagecoach.services.estimates import Estimates
from stagecoach.store import jobs as store
from stagecoach.store import queue as queue_store
from stagecoach.store.db import after_commit

log = logging.getLogger("stagecoach.jobs")

# Fields whose change alone is no news (they follow from others or from time).
_QUIET = frozenset({"updated_at", "version", "estimated_completion", "eta_low", "eta_high"})


class LeaseLost(Exception):
    """The file is no longer this worker's: ``reason`` is "cancelled" or "lost"."""

    def __init__(self, artifact_id: str, reason: str) -> None:
        super().__init__(f"artifact {artifact_id}: {reason}")
        self.artifact_id = artifact_id
        self.reason = reason


@dataclass(frozen=True)
class Fence:
    """A worker's hold on one file: its id and the token of its claim."""

    artifact_id: str
    token: int


@dataclass(frozen=True)
class NewResult:
    artifact: Artifact
    name: str
    stored_path: str
    mime: str
    size: int
    token: int


@dataclass
class JobChange:
    """What one writer changes, gathered until the unit of work commits it."""

    conn: Connection
    now: datetime
    job: Job  # as the writer wants it (for jobs rolled up from files: before the roll-up)
    before: Job
    stored: dict[str, Artifact]
    artifacts: dict[str, Artifact]
    fence: Fence | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    results: list[NewResult] = field(default_factory=list)
    added: list[Artifact] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)
    new_attempt: bool = False  # the job's estimate starts afresh (no smoothing from before)
    learn: bool = True
    quiet: bool = False  # a change that is no news to live clients (a lease's bookkeeping)
    ending: str | None = None  # what the file completed now says of itself ("No speech ...")
    log_lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def artifact(self, artifact_id: str) -> Artifact:
        return self.artifacts[artifact_id]

    @property
    def files(self) -> list[Artifact]:
        return sorted(self.artifacts.values(), key=lambda a: a.position)

    def put(self, artifact: Artifact) -> None:
        if artifact.artifact_id not in self.artifacts:
            raise KeyError(artifact.artifact_id)
        self.artifacts[artifact.artifact_id] = artifact

    def add(self, artifact: Artifact) -> None:
        """A new file of the job (the next file of an upload)."""
        self.added.append(artifact)
        self.stored[artifact.artifact_id] = artifact
        self.artifacts[artifact.artifact_id] = artifact

    def set_job(self, job: Job) -> None:
        self.job = job

    def note(
        self,
        kind: str,
        message: str | None,
        *,
        artifact: Artifact | None = None,
        status: str | None = None,
        stage: str | None = None,
        attempt: int | None = None,
    ) -> None:
        self.history.append(
            HistoryEntry(
                job_id=self.job.job_id,
                at=self.now,
                kind=kind,
                status=status or (str(artifact.status) if artifact else str(self.job.status)),
                stage=stage or (artifact.current_stage if artifact else self.job.current_stage),
                artifact_id=artifact.artifact_id if artifact else None,
                attempt=attempt
                if attempt is not None
                else (artifact.attempts if artifact else self.job.attempts),
                message=message,
            )
        )

    def count(self, name: str) -> None:
        self.counters.append(name)

    def log(self, message: str, **extra: Any) -> None:
        self.log_lines.append((message, extra))


class UnitOfWork:
    def __init__(self, ctx: ServiceContext, estimates: Estimates) -> None:
        self.ctx = ctx
        self.estimates = estimates

    # --- opening a change ------------------------------------------------------------------
    @contextmanager
    def change(
        self,
        job_id: str,
        *,
        viewer: User | None = None,
        fence: Fence | None = None,
    ) -> Iterator[JobChange]:
        """Lock the job, read its files, check ``fence``; commit what the block states."""
        self.estimates.prepare(queue=True)
        with self.ctx.db.write() as conn:
            if viewer is not None and store.get_visible_job(conn, viewer, job_id) is None:
                # Another user's job answers exactly as a missing one.
                raise NotFound(f"job {job_id} not found")
            job = store.get_job(conn, job_id, for_update=True)
            if job is None:
                if fence is not None:
                    raise LeaseLost(fence.artifact_id, "lost")
                raise NotFound(f"job {job_id} not found")
            ch = self.begin(conn, job, store.job_artifacts(conn, job_id), fence=fence)
            yield ch
            self.commit(ch)
        self.after(ch)

    @contextmanager
    def within(self, conn: Connection, job_id: str) -> Iterator[JobChange]:
        """``change`` inside the caller's write transaction (an upload's next file); logged
        once that commits."""
        job = store.get_job(conn, job_id, for_update=True)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        ch = self.begin(conn, job, store.job_artifacts(conn, job_id))
        yield ch
        self.commit(ch)
        after_commit(conn, lambda: self.after(ch))

    def begin(
        self, conn: Connection, job: Job, artifacts: list[Artifact], *, fence: Fence | None = None
    ) -> JobChange:
        """A change over rows the caller has locked already (the claim)."""
        stored = {a.artifact_id: a for a in artifacts}
        if fence is not None:
            a = stored.get(fence.artifact_id)
            if a is None or a.lease_token != fence.token:
                raise LeaseLost(fence.artifact_id, "lost")
            if a.status is JobStatus.CANCELLED or job.status is JobStatus.CANCELLED:
                raise LeaseLost(fence.artifact_id, "cancelled")
            if a.status is not JobStatus.PROCESSING:
                raise LeaseLost(fence.artifact_id, "lost")
        return JobChange(
            conn=conn,
            now=self.ctx.clock(),
            job=job,
            before=job,
            stored=stored,
            artifacts=dict(stored),
            fence=fence,
        )

    # --- committing ------------------------------------------------------------------------
    def commit(self, ch: JobChange) -> Job:
        conn, now = ch.conn, ch.now
        for a in ch.added:
            store.insert_artifact(conn, a)
        added = {a.artifact_id for a in ch.added}
        changed_files = [
            (ch.stored[aid], a)
            for aid, a in ch.artifacts.items()
            if ch.stored[aid] != a and aid not in added
        ]
        for old, new in changed_files:
            token = ch.fence.token if ch.fence and ch.fence.artifact_id == new.artifact_id else None
            if not store.save_artifact(conn, old, new, token):
                raise LeaseLost(new.artifact_id, "lost")
            if ch.learn and new.pipeline:
                self.estimates.learn_finished_stages(conn, old, new)
        files = ch.files
        job = ch.job
        if job.claimable and job.expired_at is None:
            job = roll_up(job, files, now)
        if job.status is not ch.before.status:
            job = self._status_changed(ch, job)
            if job.status in _ENDED and job.claimable:
                job = job.evolve(message=_last_word(ch, job))
        moved = any(
            getattr(job, k) != getattr(ch.before, k)
            for k in Job.__dataclass_fields__
            if k not in _QUIET
        )
        news = bool(moved or changed_files or ch.added or ch.history or ch.results)
        if news:
            # Estimated only when something happened: a repeated report changes nothing.
            job = self.estimates.refresh(
                job, files, new_attempt=ch.new_attempt, shown_at=ch.before.updated_at
            )
            job = job.evolve(version=ch.before.version + 1, updated_at=now)
            store.save_job(conn, ch.before, job)
        self._insert_results(ch)
        store.append_history(conn, ch.history)
        for name in ch.counters:
            queue_store.bump_counter(conn, name)
        if news:
            self.ctx.jobs_changed(conn, [job.job_id])
        if news and not ch.quiet:
            store.record_change(conn, job, now)
        if any(_became_claimable(ch.stored[aid], a) for aid, a in ch.artifacts.items()):
            self.ctx.announce_work(conn)
        ch.job = job
        return job

    def _status_changed(self, ch: JobChange, job: Job) -> Job:
        """The timeline entry for the job's own change of status, unless the writer wrote it."""
        if not any(h.artifact_id is None and h.status == str(job.status) for h in ch.history):
            ch.history.append(
                HistoryEntry(
                    job_id=job.job_id,
                    at=ch.now,
                    kind="status",
                    status=str(job.status),
                    stage=job.current_stage,
                    attempt=job.attempts,
                    message=status_note(ch.before, job, ch.files),
                )
            )
        if job.status is JobStatus.PROCESSING and ch.before.status is JobStatus.PENDING:
            ch.new_attempt = True  # the wait is behind it: estimate afresh
        return job

    def _insert_results(self, ch: JobChange) -> None:
        if not ch.results:
            return
        taken = queue_store.result_names(ch.conn, ch.job.job_id)
        for r in ch.results:
            # Two files of a job may make the same name (two datasets, two story.md): the
            # later one takes its file's name first, as its download does.
            name = r.name
            if name in taken:
                name = download_name(r.artifact.filename, r.name)
            if name in taken:  # two files of one name
                name = f"{r.artifact.position + 1}-{name}"
            taken.add(name)
            queue_store.insert_result(
                ch.conn,
                result_id=str(uuid.uuid4()),
                job_id=ch.job.job_id,
                artifact_id=r.artifact.artifact_id,
                name=name,
                stored_path=r.stored_path,
                mime=r.mime,
                size=r.size,
                created_at=ch.now,
                lease_token=r.token,
            )

    def after(self, ch: JobChange) -> None:
        """Once committed: the log."""
        for h in ch.history:
            # The job's own change of status is logged as what it became: "job completed".
            own = h.kind == "status" and h.artifact_id is None and h.status
            log.info(
                "job %s",
                own or h.kind,
                extra={
                    "job_id": ch.job.job_id,
                    "status": h.status,
                    "stage": h.stage,
                    "artifact_id": h.artifact_id,
                },
            )
        for message, extra in ch.log_lines:
            log.info(message, extra={"job_id": ch.job.job_id, **extra})

    # --- a new job -------------------------------------------------------------------------
    def insert(
        self, conn: Connection, job: Job, artifacts: list[Artifact], message: str
    ) -> JobChange:
        """A new job and its files, in the caller's write transaction."""
        now = self.ctx.clock()
        job = self.estimates.refresh(job, artifacts, new_attempt=True)
        store.insert_job(conn, job)
        for a in artifacts:
            store.insert_artifact(conn, a)
        ch = JobChange(
            conn=conn,
            now=now,
            job=job,
            before=job,
            stored={a.artifact_id: a for a in artifacts},
            artifacts={a.artifact_id: a for a in artifacts},
        )
        ch.note("created", message, attempt=0)
        store.append_history(conn, ch.history)
        store.record_change(conn, job, now)
        self.ctx.jobs_changed(conn, [job.job_id])
        if any(_claimable(a) for a in artifacts):
            self.ctx.announce_work(conn)
        after_commit(conn, lambda: self.after(ch))
        return ch


def _claimable(a: Artifact) -> bool:
    return a.status is JobStatus.PENDING and a.claimable


def _became_claimable(old: Artifact, new: Artifact) -> bool:
    return _claimable(new) and (not _claimable(old) or old.run_after != new.run_after)


_ENDED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def _last_word(ch: JobChange, job: Job) -> str | None:
    """The job's message once it ended: no stale progress line; what its last file said of
    itself, if anything ("No speech found in a.wav"); else the contract's own words."""
    if job.status is not JobStatus.COMPLETED or job.outcome != "complete" or not ch.ending:
        return None
    n, said = len(ch.artifacts), ch.ending.rstrip(".") + "."
    return said if n == 1 else f"{n} files done. {said}"

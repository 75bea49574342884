"""SQL for jobs, their artifacts, their timeline and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult

from stagecoach.domain.records import Artifact, HistoryEntry, Job, Role, User
from stagecoach.domain.status import JobStatus
from stagecoach.store.accounts import visible_owner_clause
from stagecoach.store.tables import artifacts, files, job_events, job_history, jobs

NOTIFY_CHANNEL = "stagecoach_jobs"
_JOB_COLS = [c.name for c in jobs.columns]


R = TypeVar("R", Job, Artifact)


def _records(cls: type[R], result: CursorResult[Any]) -> list[R]:
    """Records from a result's plain rows (no per-row mapping: the poll's hot path)."""
    return cls.from_rows(list(result.keys()), result)


def _first(cls: type[R], result: CursorResult[Any]) -> R | None:
    found = _records(cls, result)  # a read by key: at most one row
    return found[0] if found else None


def _job_values(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in _JOB_COLS}


def insert_job(conn: Connection, job: Job) -> None:
    values = _job_values(job)
    values["status"] = str(job.status)
    conn.execute(jobs.insert().values(**values))


def get_job(conn: Connection, job_id: str, *, for_update: bool = False) -> Job | None:
    """``for_update``: lock the job row for this transaction (PostgreSQL; SQLite's write
    transaction holds the whole database). Every writer of a job or its files locks the
    job first, so its files' writes are serialised by it."""
    q = sa.select(jobs).where(jobs.c.job_id == job_id)
    if for_update and conn.dialect.name != "sqlite":
        q = q.with_for_update()
    return _first(Job, conn.execute(q))


def jobs_by_id(conn: Connection, job_ids: list[str]) -> list[Job]:
    """The jobs of ``job_ids`` that exist, in one read."""
    if not job_ids:
        return []
    return _records(Job, conn.execute(sa.select(jobs).where(jobs.c.job_id.in_(job_ids))))


# Built once: the status poll runs these thousands of times a second.
_VIEWER = User(user_id="", username="", role=Role.ANALYST)
VISIBLE_JOB = {
    role: sa.select(jobs).where(
        jobs.c.job_id == sa.bindparam("job_id"),
        visible_owner_clause(_VIEWER.evolve(role=role), jobs.c.owner_id, sa.bindparam("viewer")),
    )
    for role in Role
}
# An artifact is read with its file's media facts, which its estimate needs.
ARTIFACT_COLUMNS = (
    *artifacts.columns,
    files.c.duration_seconds,
    files.c.page_count,
    files.c.row_count,
    files.c.column_count,
    files.c.size,
)
ARTIFACTS_WITH_FACTS = artifacts.outerjoin(files, files.c.file_id == artifacts.c.file_id)
JOB_ARTIFACTS = (
    sa.select(*ARTIFACT_COLUMNS)
    .select_from(ARTIFACTS_WITH_FACTS)
    .where(artifacts.c.job_id == sa.bindparam("job_id"))
    .order_by(artifacts.c.position)
)


# What the status poll's ETag is made of: one narrow row, no artifacts, no queue.
_STAMP_COLS = (jobs.c.version, jobs.c.updated_at, jobs.c.status)
VISIBLE_STAMP = {
    role: sa.select(*_STAMP_COLS).where(
        jobs.c.job_id == sa.bindparam("job_id"),
        visible_owner_clause(_VIEWER.evolve(role=role), jobs.c.owner_id, sa.bindparam("viewer")),
    )
    for role in Role
}


def visible_job_stamp(
    conn: Connection, viewer: User, job_id: str
) -> tuple[int, datetime, JobStatus] | None:
    """The job's version, ``updated_at`` and status if the viewer may see it, else None."""
    row = conn.execute(
        VISIBLE_STAMP[viewer.role], {"job_id": job_id, "viewer": viewer.user_id}
    ).first()
    return None if row is None else _stamp(row)


def _stamp(row: Any) -> tuple[int, datetime, JobStatus]:
    """A row of _STAMP_COLS as the stamp the poll compares."""
    return (int(row[0]), row[1], JobStatus(row[2]))


def job_stamps(conn: Connection, job_ids: list[str]) -> dict[str, tuple[int, datetime, JobStatus]]:
    """job_id -> the stamp of ``visible_job_stamp``, for those of ``job_ids`` that exist, in
    one read (no visibility: the caller knows whose they are)."""
    if not job_ids:
        return {}
    rows = conn.execute(sa.select(jobs.c.job_id, *_STAMP_COLS).where(jobs.c.job_id.in_(job_ids)))
    return {r[0]: _stamp(r[1:]) for r in rows}


def get_visible_job(conn: Connection, viewer: User, job_id: str) -> Job | None:
    return _first(
        Job, conn.execute(VISIBLE_JOB[viewer.role], {"job_id": job_id, "viewer": viewer.user_id})
    )


def save_job(conn: Connection, old: Job, new: Job) -> None:
    """Write the fields that differ. The caller holds the job's lock."""
    changed = {k: v for k, v in _job_values(new).items() if getattr(old, k) != v}
    if "status" in changed:
        changed["status"] = str(new.status)
    if changed:
        conn.execute(jobs.update().where(jobs.c.job_id == new.job_id).values(**changed))


def list_jobs(
    conn: Connection,
    viewer: User,
    *,
    status: str | None = None,
    case_name: str | None = None,
    owner_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    where = [visible_owner_clause(viewer, jobs.c.owner_id)]
    if status == "expired":
        where.append(jobs.c.expired_at.is_not(None))
    elif status is not None:
        where.append(jobs.c.status == status)
    if case_name is not None:
        where.append(jobs.c.case_name == case_name)
    if owner_id is not None:  # within what the viewer may see, as every filter
        where.append(jobs.c.owner_id == owner_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar_one()
    result = conn.execute(
        sa.select(jobs)
        .where(*where)
        .order_by(jobs.c.created_at.desc(), jobs.c.job_id)
        .limit(limit)
        .offset(offset)
    )
    return _records(Job, result), int(total)


def status_counts(conn: Connection, viewer: User) -> dict[str, int]:
    """How many of the jobs the viewer may see are in each status (expired ones apart)."""
    rows = conn.execute(
        sa.select(jobs.c.status, sa.func.count())
        .where(visible_owner_clause(viewer, jobs.c.owner_id), jobs.c.expired_at.is_(None))
        .group_by(jobs.c.status)
    )
    return {str(status): int(n) for status, n in rows}


def insert_artifact(conn: Connection, artifact: Artifact) -> None:
    values = {k: getattr(artifact, k) for k in (c.name for c in artifacts.columns)}
    values["status"] = str(artifact.status)
    conn.execute(artifacts.insert().values(**values))


def job_artifacts(conn: Connection, job_id: str) -> list[Artifact]:
    return _records(Artifact, conn.execute(JOB_ARTIFACTS, {"job_id": job_id}))


def artifacts_for_jobs(conn: Connection, job_ids: list[str]) -> dict[str, list[Artifact]]:
    out: dict[str, list[Artifact]] = {j: [] for j in job_ids}
    if not job_ids:
        return out
    result = conn.execute(
        sa.select(*ARTIFACT_COLUMNS)
        .select_from(ARTIFACTS_WITH_FACTS)
        .where(artifacts.c.job_id.in_(job_ids))
        .order_by(artifacts.c.job_id, artifacts.c.position)
    )
    for art in _records(Artifact, result):
        out[art.job_id].append(art)
    return out


_ARTIFACT_COLS = [c.name for c in artifacts.columns]


def save_artifact(conn: Connection, old: Artifact, new: Artifact, token: int | None = None) -> bool:
    """Write the fields that differ; with ``token``, only while the artifact still carries
    that fencing token (False when it no longer does)."""
    changed = {k: getattr(new, k) for k in _ARTIFACT_COLS if getattr(old, k) != getattr(new, k)}
    if "status" in changed:
        changed["status"] = str(new.status)
    if not changed and token is None:
        return True
    where = [artifacts.c.artifact_id == new.artifact_id]
    if token is not None:
        where.append(artifacts.c.lease_token == token)
        changed = changed or {"lease_token": token}  # still checks the fence
    res = conn.execute(artifacts.update().where(*where).values(**changed))
    return res.rowcount == 1


def append_history(conn: Connection, entries: list[HistoryEntry]) -> None:
    if not entries:
        return
    conn.execute(
        job_history.insert(),
        [
            {
                "job_id": e.job_id,
                "at": e.at,
                "kind": e.kind,
                "status": e.status,
                "stage": e.stage,
                "artifact_id": e.artifact_id,
                "attempt": e.attempt,
                "message": e.message,
            }
            for e in entries
        ],
    )


def timeline(conn: Connection, job_id: str) -> list[HistoryEntry]:
    rows = conn.execute(
        sa.select(job_history)
        .where(job_history.c.job_id == job_id)
        .order_by(job_history.c.at, job_history.c.entry_id)
    ).mappings()
    return [HistoryEntry.from_row(r) for r in rows]


def record_change(conn: Connection, job: Job, now: datetime) -> int:
    """Append to the change feed (and wake PostgreSQL listeners when the transaction commits)."""
    res = conn.execute(job_events.insert().values(job_id=job.job_id, owner_id=job.owner_id, at=now))
    event_id = int(res.inserted_primary_key[0])  # type: ignore[index]
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, f"{event_id}:{job.job_id}")))
    return event_id


def queue_position(conn: Connection, job: Job) -> int | None:
    """1 when the job's files are the next to be claimed: jobs with files queued before its
    own first waiting file, plus one."""
    if job.status is not JobStatus.PENDING or not job.claimable:
        return None
    mine = (
        sa.select(sa.func.min(artifacts.c.queued_at))
        .where(
            artifacts.c.job_id == job.job_id,
            artifacts.c.status == "pending",
            artifacts.c.claimable.is_(True),
        )
        .scalar_subquery()
    )
    ahead = conn.execute(
        sa.select(sa.func.count(sa.distinct(artifacts.c.job_id))).where(
            artifacts.c.status == "pending",
            artifacts.c.claimable.is_(True),
            artifacts.c.job_id != job.job_id,
            artifacts.c.queued_at < mine,
        )
    ).scalar_one()
    return int(ahead) + 1

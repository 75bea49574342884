"""SQL of the durable queue: claim, fenced writes, expired leases, stalls, retention, counters.

A worker holds a job by its fencing token (``lease_token``). Every write it makes names the
token in its WHERE clause: once the job was requeued or taken over, the write matches no
row and the worker knows it lost the job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import Artifact, Job
from stagecoach.store.jobs import _job_values
from stagecoach.store.tables import (
    artifacts,
    files,
    job_events,
    job_history,
    jobs,
    queue_counters,
    results,
)


def claim_candidate(
    conn: Connection, pipelines: Iterable[str], now: datetime, *, lock: bool = True
) -> Job | None:
    """The oldest runnable pending job of one of ``pipelines``, locked for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so concurrent claimers take different jobs.
    SQLite: the caller's ``BEGIN IMMEDIATE`` already serialises claimers.
    """
    names = list(pipelines)
    if not names:
        return None
    q = (
        sa.select(jobs)
        .where(
            jobs.c.status == "pending",
            jobs.c.claimable.is_(True),
            jobs.c.expired_at.is_(None),
            jobs.c.pipeline.in_(names),
            sa.or_(jobs.c.run_after.is_(None), jobs.c.run_after <= now),
        )
        .order_by(jobs.c.created_at, jobs.c.job_id)
        .limit(1)
    )
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    row = conn.execute(q).mappings().first()
    return Job.from_row(row) if row else None


def lock_job(conn: Connection, job_id: str) -> Job | None:
    q = sa.select(jobs).where(jobs.c.job_id == job_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    return Job.from_row(row) if row else None


def save_job_fenced(conn: Connection, old: Job, new: Job, token: int) -> bool:
    """Write the changed fields only if the job still carries ``token``; False otherwise."""
    changed = {k: v for k, v in _job_values(new).items() if getattr(old, k) != v}
    if "status" in changed:
        changed["status"] = str(new.status)
    if not changed:
        changed = {"lease_token": token}  # still checks the fence
    res = conn.execute(
        jobs.update()
        .where(jobs.c.job_id == new.job_id, jobs.c.lease_token == token)
        .values(**changed)
    )
    return res.rowcount == 1


def renew_lease(
    conn: Connection, job_id: str, token: int, worker_id: str, expires_at: datetime
) -> bool:
    res = conn.execute(
        jobs.update()
        .where(
            jobs.c.job_id == job_id,
            jobs.c.lease_token == token,
            jobs.c.worker_id == worker_id,
            jobs.c.status == "processing",
        )
        .values(lease_expires_at=expires_at)
    )
    return res.rowcount == 1


def lease_states(conn: Connection, job_ids: list[str]) -> dict[str, tuple[str, int]]:
    """job_id -> (status, lease_token), read without locks (the cancel poll)."""
    if not job_ids:
        return {}
    rows = conn.execute(
        sa.select(jobs.c.job_id, jobs.c.status, jobs.c.lease_token).where(
            jobs.c.job_id.in_(job_ids)
        )
    )
    return {r.job_id: (r.status, int(r.lease_token)) for r in rows}


def release_lease(conn: Connection, job_id: str, token: int) -> bool:
    """Forget the worker of a job that ended outside it (a cancel)."""
    res = conn.execute(
        jobs.update()
        .where(jobs.c.job_id == job_id, jobs.c.lease_token == token)
        .values(worker_id=None, lease_expires_at=None)
    )
    return res.rowcount == 1


def expired_lease_ids(conn: Connection, now: datetime, limit: int = 100) -> list[str]:
    rows = conn.execute(
        sa.select(jobs.c.job_id)
        .where(jobs.c.status == "processing", jobs.c.lease_expires_at < now)
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
    )
    return [r.job_id for r in rows]


def silent_job_ids(
    conn: Connection, quiet_since: datetime, now: datetime, limit: int = 100
) -> list[str]:
    """Processing jobs with a live lease and no progress since ``quiet_since``, not yet flagged."""
    rows = conn.execute(
        sa.select(jobs.c.job_id)
        .where(
            jobs.c.status == "processing",
            jobs.c.stalled.is_(False),
            jobs.c.last_progress_at < quiet_since,
            jobs.c.lease_expires_at >= now,
        )
        .limit(limit)
    )
    return [r.job_id for r in rows]


def save_artifact_fenced(conn: Connection, old: Artifact, new: Artifact) -> None:
    """The caller has checked the job's fence inside this transaction."""
    changed = {
        k: getattr(new, k)
        for k in (c.name for c in artifacts.columns)
        if getattr(old, k) != getattr(new, k)
    }
    if "status" in changed:
        changed["status"] = str(new.status)
    if changed:
        conn.execute(
            artifacts.update().where(artifacts.c.artifact_id == new.artifact_id).values(**changed)
        )


def get_artifact(conn: Connection, artifact_id: str) -> Artifact | None:
    row = (
        conn.execute(sa.select(artifacts).where(artifacts.c.artifact_id == artifact_id))
        .mappings()
        .first()
    )
    return Artifact.from_row(row) if row else None


def file_rows(conn: Connection, file_ids: list[str]) -> dict[str, Any]:
    if not file_ids:
        return {}
    rows = conn.execute(sa.select(files).where(files.c.file_id.in_(file_ids))).mappings()
    return {r["file_id"]: dict(r) for r in rows}


# --- results -----------------------------------------------------------------------------


def result_names(conn: Connection, job_id: str) -> set[str]:
    return set(conn.execute(sa.select(results.c.name).where(results.c.job_id == job_id)).scalars())


def insert_result(conn: Connection, **values: Any) -> None:
    conn.execute(results.insert().values(**values))


# --- counters ----------------------------------------------------------------------------


def bump_counter(conn: Connection, name: str, by: int = 1) -> None:
    res = conn.execute(
        queue_counters.update()
        .where(queue_counters.c.name == name)
        .values(value=queue_counters.c.value + by)
    )
    if res.rowcount == 0:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(queue_counters).values(name=name, value=by)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name"], set_={"value": queue_counters.c.value + by}
                )
            )
        else:
            conn.execute(queue_counters.insert().values(name=name, value=by))


def counters(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(queue_counters.c.name, queue_counters.c.value))
    return {r.name: int(r.value) for r in rows}


# --- retention ---------------------------------------------------------------------------


def ended_before(conn: Connection, cutoff: datetime, limit: int = 500) -> list[Job]:
    rows = conn.execute(
        sa.select(jobs)
        .where(
            jobs.c.status.in_(["completed", "failed", "cancelled"]),
            jobs.c.expired_at.is_(None),
            jobs.c.finished_at < cutoff,
        )
        .order_by(jobs.c.finished_at)
        .limit(limit)
    ).mappings()
    return [Job.from_row(r) for r in rows]


def job_result_paths(conn: Connection, job_id: str) -> list[str]:
    return list(
        conn.execute(sa.select(results.c.stored_path).where(results.c.job_id == job_id)).scalars()
    )


def files_only_in(conn: Connection, job_id: str) -> list[dict[str, Any]]:
    """Stored files of this job that no other unexpired job still uses."""
    mine = sa.select(artifacts.c.file_id).where(
        artifacts.c.job_id == job_id, artifacts.c.file_id.is_not(None)
    )
    others = (
        sa.select(artifacts.c.file_id)
        .join(jobs, jobs.c.job_id == artifacts.c.job_id)
        .where(
            artifacts.c.job_id != job_id,
            jobs.c.expired_at.is_(None),
            artifacts.c.file_id.is_not(None),
        )
    )
    rows = conn.execute(
        sa.select(files.c.file_id, files.c.stored_path).where(
            files.c.file_id.in_(mine),
            files.c.file_id.not_in(others),
            files.c.status != "expired",
        )
    ).mappings()
    return [dict(r) for r in rows]


def expire_job(conn: Connection, job_id: str, now: datetime, file_ids: list[str]) -> None:
    conn.execute(job_history.delete().where(job_history.c.job_id == job_id))
    conn.execute(results.delete().where(results.c.job_id == job_id))
    conn.execute(
        artifacts.update().where(artifacts.c.job_id == job_id).values(stage_units={}, error=None)
    )
    if file_ids:
        conn.execute(
            files.update()
            .where(files.c.file_id.in_(file_ids))
            .values(status="expired", stored_path=None)
        )
    conn.execute(
        jobs.update()
        .where(jobs.c.job_id == job_id, jobs.c.expired_at.is_(None))
        .values(expired_at=now, updated_at=now, version=jobs.c.version + 1)
    )


def prune_change_feed(conn: Connection, before: datetime) -> int:
    res = conn.execute(job_events.delete().where(job_events.c.at < before))
    return int(res.rowcount or 0)

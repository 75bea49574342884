"""SQL of the durable queue: claim, leases, expired leases, stalls, retention, counters.

The unit of work is the artifact (one file of a job). A worker holds an artifact by its
fencing token (``lease_token``); every write it makes names the token, so once the artifact
was requeued or taken over, the write matches no row and the worker knows it lost it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import Artifact, Job
from stagecoach.store.jobs import ARTIFACT_COLUMNS, ARTIFACTS_WITH_FACTS
from stagecoach.store.tables import (
    artifacts,
    files,
    job_events,
    job_history,
    jobs,
    queue_counters,
    results,
)


def _runnable(names: list[str], now: datetime) -> list[Any]:
    return [
        artifacts.c.status == "pending",
        artifacts.c.claimable.is_(True),
        artifacts.c.pipeline.in_(names),
        sa.or_(artifacts.c.run_after.is_(None), artifacts.c.run_after <= now),
    ]


def has_claimable(conn: Connection, pipelines: Iterable[str], now: datetime) -> bool:
    """Whether any file waits to be claimed, looked at without a lock."""
    names = list(pipelines)
    if not names:
        return False
    q = sa.select(artifacts.c.artifact_id).where(*_runnable(names, now)).limit(1)
    return conn.execute(q).first() is not None


def claim_candidate(
    conn: Connection, pipelines: Iterable[str], now: datetime
) -> tuple[Artifact, Job] | None:
    """The oldest runnable waiting file of one of ``pipelines`` and its job, both locked.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` over the file and its job, so concurrent claimers
    take different files and never wait on a job another writer holds (every other writer
    locks the job first, then its files: no lock cycle). SQLite: the caller's
    ``BEGIN IMMEDIATE`` already serialises claimers.
    """
    names = list(pipelines)
    if not names:
        return None
    q = (
        sa.select(*ARTIFACT_COLUMNS)
        .select_from(ARTIFACTS_WITH_FACTS)
        .where(*_runnable(names, now))
        .order_by(artifacts.c.queued_at, artifacts.c.position)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        q = (
            sa.select(*artifacts.columns, *[c.label(f"job__{c.name}") for c in jobs.columns])
            .select_from(artifacts.join(jobs, jobs.c.job_id == artifacts.c.job_id))
            .where(*_runnable(names, now))
            .order_by(artifacts.c.queued_at, artifacts.c.position)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = conn.execute(q).mappings().first()
        if row is None:
            return None
        job = Job.from_row({k[5:]: v for k, v in row.items() if k.startswith("job__")})
        art = Artifact.from_row({k: v for k, v in row.items() if not k.startswith("job__")})
        return art, job
    row = conn.execute(q).mappings().first()
    if row is None:
        return None
    art = Artifact.from_row(row)
    jrow = conn.execute(sa.select(jobs).where(jobs.c.job_id == art.job_id)).mappings().first()
    assert jrow is not None
    return art, Job.from_row(jrow)


def renew_lease(
    conn: Connection, artifact_id: str, token: int, worker_id: str, expires_at: datetime
) -> bool:
    res = conn.execute(
        artifacts.update()
        .where(
            artifacts.c.artifact_id == artifact_id,
            artifacts.c.lease_token == token,
            artifacts.c.worker_id == worker_id,
            artifacts.c.status == "processing",
        )
        .values(lease_expires_at=expires_at)
    )
    return res.rowcount == 1


def renew_leases(
    conn: Connection, leases: dict[str, int], worker_id: str, expires_at: datetime
) -> set[str]:
    """Renew every lease this worker still holds, in one statement per lease; the ids renewed."""
    return {
        aid for aid, token in leases.items() if renew_lease(conn, aid, token, worker_id, expires_at)
    }


def lease_states(conn: Connection, artifact_ids: list[str]) -> dict[str, tuple[str, int]]:
    """artifact_id -> (status, lease_token), read without locks (the cancel poll)."""
    if not artifact_ids:
        return {}
    rows = conn.execute(
        sa.select(artifacts.c.artifact_id, artifacts.c.status, artifacts.c.lease_token).where(
            artifacts.c.artifact_id.in_(artifact_ids)
        )
    )
    return {r.artifact_id: (r.status, int(r.lease_token)) for r in rows}


def expired_leases(conn: Connection, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
    """(job_id, artifact_id) of files whose worker stopped renewing its lease."""
    rows = conn.execute(
        sa.select(artifacts.c.job_id, artifacts.c.artifact_id)
        .where(artifacts.c.status == "processing", artifacts.c.lease_expires_at < now)
        .order_by(artifacts.c.lease_expires_at)
        .limit(limit)
    )
    return [(r.job_id, r.artifact_id) for r in rows]


def silent_artifacts(
    conn: Connection, quiet_since: datetime, now: datetime, limit: int = 100
) -> list[tuple[str, str]]:
    """(job_id, artifact_id) of files processing under a live lease with no progress since
    ``quiet_since``, not yet flagged."""
    rows = conn.execute(
        sa.select(artifacts.c.job_id, artifacts.c.artifact_id)
        .where(
            artifacts.c.status == "processing",
            artifacts.c.stalled.is_(False),
            artifacts.c.last_progress_at < quiet_since,
            artifacts.c.lease_expires_at >= now,
        )
        .limit(limit)
    )
    return [(r.job_id, r.artifact_id) for r in rows]


def file_row(conn: Connection, file_id: str | None) -> dict[str, Any] | None:
    if file_id is None:
        return None
    row = conn.execute(sa.select(files).where(files.c.file_id == file_id)).mappings().first()
    return dict(row) if row else None


def queue_snapshot(conn: Connection, limit: int = 200) -> tuple[list[Artifact], list[Artifact]]:
    """What the queue-wait estimate needs: the files processing, and the first ``limit``
    waiting to be claimed, in claim order."""
    running = conn.execute(
        sa.select(*ARTIFACT_COLUMNS)
        .select_from(ARTIFACTS_WITH_FACTS)
        .where(artifacts.c.status == "processing", artifacts.c.claimable.is_(True))
    ).mappings()
    waiting = conn.execute(
        sa.select(*ARTIFACT_COLUMNS)
        .select_from(ARTIFACTS_WITH_FACTS)
        .where(artifacts.c.status == "pending", artifacts.c.claimable.is_(True))
        .order_by(artifacts.c.queued_at, artifacts.c.position)
        .limit(limit)
    ).mappings()
    return [Artifact.from_row(r) for r in running], [Artifact.from_row(r) for r in waiting]


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


def expire_details(conn: Connection, job_id: str, file_ids: list[str]) -> None:
    """Retention: a job's timeline, results and stored files go (its row is the caller's)."""
    conn.execute(job_history.delete().where(job_history.c.job_id == job_id))
    conn.execute(results.delete().where(results.c.job_id == job_id))
    if file_ids:
        conn.execute(
            files.update()
            .where(files.c.file_id.in_(file_ids))
            .values(status="expired", stored_path=None)
        )


def prune_change_feed(conn: Connection, before: datetime) -> int:
    res = conn.execute(job_events.delete().where(job_events.c.at < before))
    return int(res.rowcount or 0)

"""SQL behind /metrics: counts over the jobs table, recent stage timings, queue counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import artifacts, jobs, workers


def jobs_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        sa.select(jobs.c.status, sa.func.count())
        .where(jobs.c.expired_at.is_(None))
        .group_by(jobs.c.status)
    )
    out = {str(status): int(n) for status, n in rows}
    out["expired"] = int(
        conn.execute(
            sa.select(sa.func.count()).select_from(jobs).where(jobs.c.expired_at.is_not(None))
        ).scalar_one()
    )
    return out


def queue_depth(conn: Connection, now: datetime) -> dict[str, int]:
    """Files waiting to be claimed: ready now, or waiting out a retry's backoff."""
    pending = sa.and_(artifacts.c.status == "pending", artifacts.c.claimable.is_(True))
    ready = conn.execute(
        sa.select(sa.func.count())
        .select_from(artifacts)
        .where(pending, sa.or_(artifacts.c.run_after.is_(None), artifacts.c.run_after <= now))
    ).scalar_one()
    waiting = conn.execute(
        sa.select(sa.func.count())
        .select_from(artifacts)
        .where(pending, artifacts.c.run_after > now)
    ).scalar_one()
    stalled = conn.execute(
        sa.select(sa.func.count())
        .select_from(artifacts)
        .where(artifacts.c.status == "processing", artifacts.c.stalled.is_(True))
    ).scalar_one()
    return {"ready": int(ready), "waiting_retry": int(waiting), "stalled": int(stalled)}


def recent_stage_timings(conn: Connection, limit: int = 5000) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(artifacts.c.pipeline, artifacts.c.processing_stages)
        .where(artifacts.c.completed_at.is_not(None))
        .order_by(artifacts.c.completed_at.desc())
        .limit(limit)
    )
    return [{"pipeline": p, "stages": s or {}} for p, s in rows]


def live_worker_count(conn: Connection, since: datetime) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(workers)
            .where(workers.c.heartbeat_at >= since, workers.c.stopped_at.is_(None))
        ).scalar_one()
    )

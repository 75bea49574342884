"""SQL for worker liveness: register, heartbeat, stop, list (procrastinate's worker table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import workers


def register_worker(conn: Connection, **values: Any) -> None:
    conn.execute(workers.insert().values(**values))


def heartbeat(conn: Connection, worker_id: str, now: datetime) -> bool:
    res = conn.execute(
        workers.update().where(workers.c.worker_id == worker_id).values(heartbeat_at=now)
    )
    return res.rowcount == 1


def stop_worker(conn: Connection, worker_id: str, now: datetime) -> None:
    conn.execute(
        workers.update()
        .where(workers.c.worker_id == worker_id)
        .values(stopped_at=now, heartbeat_at=now)
    )


def live_workers(conn: Connection, since: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(workers)
        .where(workers.c.heartbeat_at >= since, workers.c.stopped_at.is_(None))
        .order_by(workers.c.started_at)
    ).mappings()
    return [dict(r) for r in rows]


def prune_workers(conn: Connection, before: datetime) -> int:
    """Forget workers silent since ``before`` (their jobs are requeued by lease expiry)."""
    res = conn.execute(workers.delete().where(workers.c.heartbeat_at < before))
    return int(res.rowcount or 0)

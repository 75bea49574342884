"""SQL for learned stage rates (one row per pipeline, stage and engine)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import stage_rates, workers


def all_rates(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(stage_rates)).mappings()]


def get_rate(
    conn: Connection, pipeline: str, stage: str, engine: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    q = sa.select(stage_rates.c.state).where(
        stage_rates.c.pipeline == pipeline,
        stage_rates.c.stage == stage,
        stage_rates.c.engine == engine,
    )
    if for_update and conn.dialect.name != "sqlite":
        q = q.with_for_update()
    row = conn.execute(q).first()
    return dict(row[0]) if row else None


def put_rate(
    conn: Connection, pipeline: str, stage: str, engine: str, state: dict[str, Any], now: datetime
) -> None:
    res = conn.execute(
        stage_rates.update()
        .where(
            stage_rates.c.pipeline == pipeline,
            stage_rates.c.stage == stage,
            stage_rates.c.engine == engine,
        )
        .values(state=state, updated_at=now)
    )
    if not res.rowcount:
        conn.execute(
            stage_rates.insert().values(
                pipeline=pipeline, stage=stage, engine=engine, state=state, updated_at=now
            )
        )


def live_slots(conn: Connection, since: datetime) -> int:
    """Jobs the live workers run at once (workers that heartbeat since ``since``)."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(workers.c.concurrency), 0)).where(
            workers.c.heartbeat_at >= since, workers.c.stopped_at.is_(None)
        )
    ).scalar_one()
    return int(total)

"""SQL for the manager's view: jobs running and failed per owner."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import User
from stagecoach.store.accounts import visible_owner_clause
from stagecoach.store.tables import jobs


def owner_counts(
    conn: Connection, viewer: User, failed_since: datetime
) -> dict[str, dict[str, int]]:
    """owner_id -> {"running": pending or processing, "failed_today": failed since then},
    over the jobs the viewer may see (expired ones apart)."""
    active = jobs.c.status.in_(("pending", "processing"))
    failed = sa.and_(jobs.c.status == "failed", jobs.c.updated_at >= failed_since)
    rows = conn.execute(
        sa.select(
            jobs.c.owner_id,
            sa.func.sum(sa.case((active, 1), else_=0)),
            sa.func.sum(sa.case((failed, 1), else_=0)),
        )
        .where(visible_owner_clause(viewer, jobs.c.owner_id), jobs.c.expired_at.is_(None))
        .group_by(jobs.c.owner_id)
    )
    return {
        str(owner): {"running": int(run or 0), "failed_today": int(fail or 0)}
        for owner, run, fail in rows
    }

"""SQL for reading the change feed (``job_events``) that live clients follow."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import Role, User
from stagecoach.store.accounts import visible_owner_clause
from stagecoach.store.tables import job_events, users


def last_event_id(conn: Connection) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(job_events.c.event_id), 0))
        ).scalar_one()
    )


def events_after(conn: Connection, after_id: int, *, limit: int = 5000) -> list[dict[str, Any]]:
    """Feed rows with an id above ``after_id``, oldest first."""
    rows = conn.execute(
        sa.select(job_events.c.event_id, job_events.c.job_id, job_events.c.owner_id)
        .where(job_events.c.event_id > after_id)
        .order_by(job_events.c.event_id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def latest_event_per_job(
    conn: Connection,
    viewer: User,
    after_id: int,
    *,
    job_id: str | None = None,
    limit: int = 1000,
) -> list[tuple[int, str]]:
    """(newest event id, job id) of each job the viewer may see that changed after
    ``after_id``: what a reconnecting client missed, one entry per job, oldest first."""
    newest = sa.func.max(job_events.c.event_id).label("event_id")
    where = [job_events.c.event_id > after_id, visible_owner_clause(viewer, job_events.c.owner_id)]
    if job_id is not None:
        where.append(job_events.c.job_id == job_id)
    rows = conn.execute(
        sa.select(newest, job_events.c.job_id)
        .where(*where)
        .group_by(job_events.c.job_id)
        .order_by(newest)
        .limit(limit)
    ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def latest_event_of_job(conn: Connection, job_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(job_events.c.event_id), 0)).where(
                job_events.c.job_id == job_id
            )
        ).scalar_one()
    )


def visible_owner_ids(conn: Connection, viewer: User) -> frozenset[str] | None:
    """Whose jobs the viewer may see, as a set of user ids; None for everyone (admin)."""
    if viewer.role is Role.ADMIN:
        return None
    rows = conn.execute(
        sa.select(users.c.user_id).where(visible_owner_clause(viewer, users.c.user_id))
    ).scalars()
    return frozenset([viewer.user_id, *rows])

"""SQL for cases: the names that group jobs, and the jobs of one case."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import User
from stagecoach.store.accounts import visible_owner_clause
from stagecoach.store.tables import artifacts, jobs


def list_cases(conn: Connection, viewer: User) -> list[dict[str, Any]]:
    """Case names the viewer may see (through their jobs), most recently active first."""
    last = sa.func.max(jobs.c.updated_at).label("last_activity")
    rows = conn.execute(
        sa.select(jobs.c.case_name, sa.func.count().label("job_count"), last)
        .where(jobs.c.case_name.is_not(None), visible_owner_clause(viewer, jobs.c.owner_id))
        .group_by(jobs.c.case_name)
        .order_by(last.desc(), jobs.c.case_name)
    ).mappings()
    return [dict(r) for r in rows]


def case_jobs(conn: Connection, viewer: User, case_name: str) -> list[dict[str, Any]]:
    """The visible jobs of a case, oldest first, with their file counts."""
    total = sa.func.count(artifacts.c.artifact_id)
    processed = sa.func.sum(sa.case((artifacts.c.status == "completed", 1), else_=0))
    rows = conn.execute(
        sa.select(
            jobs.c.job_id,
            jobs.c.status,
            jobs.c.parent_job_id,
            jobs.c.created_at,
            jobs.c.finished_at,
            jobs.c.expired_at,
            total.label("total_files"),
            processed.label("processed_files"),
        )
        .select_from(jobs.outerjoin(artifacts, artifacts.c.job_id == jobs.c.job_id))
        .where(jobs.c.case_name == case_name, visible_owner_clause(viewer, jobs.c.owner_id))
        .group_by(jobs.c.job_id)
        .order_by(jobs.c.created_at, jobs.c.job_id)
    ).mappings()
    return [dict(r) for r in rows]

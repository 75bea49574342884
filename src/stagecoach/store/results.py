"""SQL for result files (written by the worker, fenced; read by the results endpoints)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import artifacts, results


def job_results(conn: Connection, job_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(results, artifacts.c.filename.label("artifact_filename"))
        .select_from(results.outerjoin(artifacts, artifacts.c.artifact_id == results.c.artifact_id))
        .where(results.c.job_id == job_id)
        .order_by(artifacts.c.position, results.c.name)
    ).mappings()
    return [dict(r) for r in rows]


def get_result(conn: Connection, job_id: str, name: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.select(results, artifacts.c.filename.label("artifact_filename"))
            .select_from(
                results.outerjoin(artifacts, artifacts.c.artifact_id == results.c.artifact_id)
            )
            .where(results.c.job_id == job_id, results.c.name == name)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None

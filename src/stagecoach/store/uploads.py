"""SQL an upload needs beyond creating its job: more artifacts, completion, and removal."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import artifacts, files, job_events, job_history, jobs


def files_failed(conn: Connection, file_ids: list[str]) -> None:
    conn.execute(
        files.update()
        .where(files.c.file_id.in_(file_ids))
        .values(status="failed", stored_path=None)
    )


def discard(conn: Connection, job_id: str | None, file_ids: list[str]) -> None:
    """Remove an upload that was refused: its job with everything hanging off it, its files."""
    if job_id is not None:
        for table in (job_events, job_history, artifacts):
            conn.execute(sa.delete(table).where(table.c.job_id == job_id))
        conn.execute(sa.delete(jobs).where(jobs.c.job_id == job_id))
    if file_ids:
        conn.execute(sa.delete(files).where(files.c.file_id.in_(file_ids)))


def abandoned_uploads(
    conn: Connection, started_before: datetime
) -> dict[str, list[dict[str, str]]]:
    """Files still "uploading" since before ``started_before`` (their server went away),
    grouped by job: job_id -> [{file_id, stored_path, owner_id}]."""
    rows = conn.execute(
        sa.select(artifacts.c.job_id, files.c.file_id, files.c.stored_path, files.c.owner_id)
        .join(artifacts, artifacts.c.file_id == files.c.file_id)
        .where(files.c.status == "uploading", files.c.upload_time < started_before)
    ).mappings()
    out: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        out.setdefault(r["job_id"], []).append(dict(r))
    return out

"""SQL for uploaded files."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from stagecoach.domain.records import User
from stagecoach.store.accounts import visible_owner_clause
from stagecoach.store.tables import artifacts, files


def insert_file(conn: Connection, **values: Any) -> None:
    conn.execute(files.insert().values(**values))


def complete_file(conn: Connection, file_id: str, **values: Any) -> None:
    conn.execute(files.update().where(files.c.file_id == file_id).values(**values))


def job_ids_for_file(conn: Connection, file_id: str) -> list[str]:
    rows = conn.execute(
        sa.select(artifacts.c.job_id).where(artifacts.c.file_id == file_id).distinct()
    ).scalars()
    return list(rows)


def get_visible_file(conn: Connection, viewer: User, file_id: str) -> RowMapping | None:
    return (
        conn.execute(
            sa.select(files).where(
                files.c.file_id == file_id, visible_owner_clause(viewer, files.c.owner_id)
            )
        )
        .mappings()
        .first()
    )


def get_file(conn: Connection, file_id: str) -> RowMapping | None:
    return conn.execute(sa.select(files).where(files.c.file_id == file_id)).mappings().first()

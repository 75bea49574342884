"""SQL for the sign-in limits: failed attempts per key (a hashed username or client
address) over a fixed window. One upsert per key, so concurrent attempts in any number of
processes count exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.store.tables import UTCDateTime, login_limits

t = login_limits.c


@dataclass(frozen=True)
class Attempts:
    key: str
    failures: int  # in the current window, counting the attempt just reserved
    window_start: datetime


def _insert(conn: Connection) -> Any:
    """INSERT ... ON CONFLICT, which both engines spell the same way."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(login_limits)


def reserve(conn: Connection, keys: list[str], now: datetime, cutoff: datetime) -> list[Attempts]:
    """Count one more attempt for each key; a window that began before ``cutoff`` starts
    over at ``now``. Returns each key's count and window after the attempt."""
    conn.execute(login_limits.delete().where(t.window_start <= cutoff))
    now_ = sa.literal(now, UTCDateTime())
    stale = t.window_start <= sa.literal(cutoff, UTCDateTime())
    out = []
    for key in keys:
        stmt = _insert(conn).values(key=key, window_start=now, failures=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": sa.case((stale, 1), else_=t.failures + 1),
                "window_start": sa.case((stale, now_), else_=t.window_start),
            },
        ).returning(t.failures, t.window_start)
        row = conn.execute(stmt).one()
        out.append(Attempts(key, int(row.failures), row.window_start))
    return out


def forgive(conn: Connection, keys: list[str]) -> None:
    """Take back one reserved attempt per key (the password was right)."""
    conn.execute(
        login_limits.update().where(t.key.in_(keys), t.failures > 0).values(failures=t.failures - 1)
    )

"""PostgreSQL LISTEN/NOTIFY, for waking other processes: the change feed's readers (channel
``jobs.NOTIFY_CHANNEL``) and idle workers (``WORK_CHANNEL``: a job became claimable).
On SQLite nothing is sent; the other processes poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

log = logging.getLogger("stagecoach.wakeups")

WORK_CHANNEL = "stagecoach_work"


def announce_work(conn: Connection) -> None:
    """Tell idle workers, when this transaction commits, that a job can be claimed."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(WORK_CHANNEL, "")))


def listen_dsn(db_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL, for a LISTEN connection."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def listen(db_url: str, channel: str, on_notify: Callable[[], None], stop: threading.Event) -> None:
    """Call ``on_notify`` for every NOTIFY on ``channel`` (and once on each connect, for what
    came before LISTEN took hold), until ``stop`` is set. Blocking; reconnects when the
    connection breaks. Run it in a thread of its own."""
    import psycopg

    while not stop.is_set():
        try:
            with psycopg.connect(listen_dsn(db_url), autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                on_notify()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0):  # back every second to see stop
                        on_notify()
        except Exception:
            log.warning("LISTEN %s lost; reconnecting", channel, exc_info=True)
            stop.wait(1.0)

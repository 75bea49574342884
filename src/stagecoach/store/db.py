"""Engines and transactions.

SQLite: WAL for concurrent readers, and every write transaction starts with
``BEGIN IMMEDIATE`` so writers queue on the database lock instead of failing half-way
(datasette's single-writer idea, kept inside SQLite itself so it holds across processes).
PostgreSQL: ordinary transactions; row locks (``FOR UPDATE``) serialise writers of one job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what the stdlib once wrote (NaN) and orjson refuses
        return json.loads(text)


# orjson for the JSON columns: a status poll decodes about twenty of them.
JSON_CODEC = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
            **JSON_CODEC,
        )
        _sqlite_pragmas(engine)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        pool_recycle=1800,
        **JSON_CODEC,
    )


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's own would be DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        opts = conn.get_execution_options()
        if opts.get("no_begin"):
            return
        mode = "IMMEDIATE" if opts.get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


_AFTER_COMMIT = "stagecoach_after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the ``Database.write`` transaction of ``conn`` has committed:
    for telling this process what other readers can now see."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Database:
    """One engine and the two kinds of transaction the services use."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._closers: list[Callable[[], None]] = []

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: every statement sees the same snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read_each(self) -> Iterator[Connection]:
        """Reads without a transaction, each statement on its own: for the status poll,
        where BEGIN and COMMIT would cost as much as the reads (two round trips on
        PostgreSQL)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                # Skip our BEGIN; changing the isolation level would cost a PRAGMA on reset.
                yield conn.execution_options(no_begin=True)
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start on SQLite; all or nothing.
        What ``after_commit`` registered runs once it has committed (never if it rolls back)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                conn.info.pop(_AFTER_COMMIT, None)
                raise
            for callback in conn.info.pop(_AFTER_COMMIT, ()):
                callback()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True

    def on_dispose(self, close: Callable[[], None]) -> None:
        """Run ``close`` when the database is disposed (for connections kept outside the pool)."""
        self._closers.append(close)

    def dispose(self) -> None:
        for close in self._closers:
            close()
        self.engine.dispose()

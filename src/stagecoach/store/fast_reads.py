"""The status poll's two reads, run straight on the DBAPI cursor.

The statements are the ones in store/jobs.py, compiled once per engine. Each column is
converted with SQLAlchemy's own result processor for its type, so a job read here is the
same as one read through SQLAlchemy, on SQLite and PostgreSQL alike; only the per-statement
machinery (compilation cache, events, result objects) is skipped, which is most of a poll's
cost.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stagecoach.domain.records import Artifact, Job, User
from stagecoach.store.jobs import JOB_ARTIFACTS, VISIBLE_JOB

Processor = Callable[[Any], Any] | None


class _Compiled:
    def __init__(self, stmt: sa.Select[Any], engine: Engine) -> None:
        compiled = stmt.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.order = list(compiled.positiontup or []) if compiled.positional else []
        self.names = [c.name for c in stmt.selected_columns]
        self._types = [c.type for c in stmt.selected_columns]
        self._dialect = engine.dialect
        self.processors: list[Processor] = []

    def params(self, values: dict[str, Any]) -> Any:
        return [values[name] for name in self.order] if self.positional else values

    def prepare(self, description: Any) -> None:
        """Result processors, once: some drivers' need the column type codes of a result."""
        if not self.processors:
            self.processors = [
                t._cached_result_processor(self._dialect, d[1])  # noqa: SLF001
                for t, d in zip(self._types, description, strict=True)
            ]

    def row(self, raw: tuple[Any, ...]) -> dict[str, Any]:
        return {
            name: (proc(v) if proc is not None else v)
            for name, proc, v in zip(self.names, self.processors, raw, strict=True)
        }


class FastReads:
    """One per engine. Each thread keeps one connection of its own for these reads, in
    autocommit, so a poll costs the two reads and nothing else: no pool checkout, no
    liveness ping, no BEGIN or ROLLBACK (on PostgreSQL each is a round trip)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._visible = {role: _Compiled(stmt, engine) for role, stmt in VISIBLE_JOB.items()}
        self._artifacts = _Compiled(JOB_ARTIFACTS, engine)
        self._local = threading.local()
        self._owned: list[Any] = []
        self._pipelined = engine.dialect.name == "postgresql"

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            pooled = self.engine.raw_connection()
            pooled.detach()  # ours for good: the pool neither resets nor recycles it
            conn = pooled.dbapi_connection
            assert conn is not None
            if self.engine.dialect.name != "sqlite":
                conn.autocommit = True  # type: ignore[attr-defined]
            self._local.conn = conn
            self._owned.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def job_and_artifacts(self, viewer: User, job_id: str) -> tuple[Job, list[Artifact]] | None:
        """The job if the viewer may see it, with its artifacts; None as if it did not exist."""
        try:
            return self._read(viewer, job_id)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            self._drop()  # the server restarted or the link broke: once more, anew
            return self._read(viewer, job_id)

    def _read(self, viewer: User, job_id: str) -> tuple[Job, list[Artifact]] | None:
        if threading.current_thread() is not threading.main_thread():
            # Only the event loop's thread keeps a connection of its own; a thread pool's
            # dozens of threads borrow from the engine's pool instead.
            pooled = self.engine.raw_connection()
            try:
                return self._read_on(pooled.dbapi_connection, viewer, job_id)
            finally:
                pooled.close()
        return self._read_on(self._connection(), viewer, job_id)

    def _read_on(self, conn: Any, viewer: User, job_id: str) -> tuple[Job, list[Artifact]] | None:
        q = self._visible[viewer.role]
        a = self._artifacts
        if self._pipelined:
            return self._read_pipelined(conn, viewer, job_id)
        cur = conn.cursor()
        try:
            cur.execute(q.sql, q.params({"job_id": job_id, "viewer": viewer.user_id}))
            raw = cur.fetchone()
            if raw is None:
                return None
            q.prepare(cur.description)
            job = Job.from_row(q.row(raw))
            cur.execute(a.sql, a.params({"job_id": job_id}))
            rows = cur.fetchall()
            if rows:
                a.prepare(cur.description)
            return job, [Artifact.from_row(a.row(r)) for r in rows]
        finally:
            cur.close()

    def _read_pipelined(
        self, conn: Any, viewer: User, job_id: str
    ) -> tuple[Job, list[Artifact]] | None:
        """PostgreSQL: both reads sent at once (psycopg's pipeline mode), one round trip.
        The artifacts are read whether or not the viewer may see the job, and dropped."""
        q, a = self._visible[viewer.role], self._artifacts
        with conn.cursor() as job_cur, conn.cursor() as art_cur:
            with conn.pipeline():
                job_cur.execute(q.sql, q.params({"job_id": job_id, "viewer": viewer.user_id}))
                art_cur.execute(a.sql, a.params({"job_id": job_id}))
            raw = job_cur.fetchone()
            if raw is None:
                return None
            q.prepare(job_cur.description)
            job = Job.from_row(q.row(raw))
            rows = art_cur.fetchall()
            if rows:
                a.prepare(art_cur.description)
            return job, [Artifact.from_row(a.row(r)) for r in rows]

    def close(self) -> None:
        """Close the connections this kept (called when the database is disposed)."""
        for conn in self._owned:
            with contextlib.suppress(Exception):
                conn.close()
        self._owned.clear()
        self._local = threading.local()

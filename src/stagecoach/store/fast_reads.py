"""The status poll's two reads, run straight on the DBAPI cursor.

The statements are the ones in store/jobs.py, compiled once per engine. Each column is
converted with SQLAlchemy's own result processor for its type, so a job read here is the
same as one read through SQLAlchemy, on SQLite and PostgreSQL alike; only the per-statement
machinery (compilation cache, events, result objects) is skipped, which is most of a poll's
cost.
"""

from __future__ import annotations

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
    """One per engine; thread-safe (it holds only compiled text)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._visible = {role: _Compiled(stmt, engine) for role, stmt in VISIBLE_JOB.items()}
        self._artifacts = _Compiled(JOB_ARTIFACTS, engine)

    def job_and_artifacts(self, viewer: User, job_id: str) -> tuple[Job, list[Artifact]] | None:
        """The job if the viewer may see it, with its artifacts; None as if it did not exist."""
        q = self._visible[viewer.role]
        a = self._artifacts
        conn = self.engine.raw_connection()
        try:
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
                arts = [Artifact.from_row(a.row(r)) for r in rows]
            finally:
                cur.close()
            if self.engine.dialect.name != "sqlite":
                conn.rollback()  # end the implicit read transaction psycopg opened
        finally:
            conn.close()  # back to the pool
        return job, arts

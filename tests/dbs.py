"""Isolated databases for tests: one per test, cloned from a migrated template.

SQLite: the template is a migrated file, copied per test. PostgreSQL: a migrated template
database, and ``CREATE DATABASE ... TEMPLATE`` per test. Names are random, so several test
runs can share one server.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from stagecoach.store import migrate
from stagecoach.store.db import make_engine

PG_ADMIN_URL = os.environ.get(
    "STAGECOACH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# STAGECOACH_TEST_REQUIRE_ALL=1 (CI: nothing skipped for a missing server or tool) implies it.
REQUIRE_PG = "1" in (
    os.environ.get("STAGECOACH_TEST_REQUIRE_POSTGRES"),
    os.environ.get("STAGECOACH_TEST_REQUIRE_ALL"),
)


def pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        eng = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.exec_driver_sql("SELECT 1")
        eng.dispose()
        return None
    except Exception as exc:  # any failure means: not available here
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class SqliteTemplates:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        eng = make_engine(f"sqlite:///{self.template}")
        migrate.upgrade(eng)
        with eng.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        eng.dispose()

    def new(self) -> str:
        path = self.root / f"t_{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


class PgTemplates:
    def __init__(self) -> None:
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.template = f"sc_tpl_{uuid.uuid4().hex[:10]}"
        self.made: list[str] = []
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{self.template}"')
        eng = make_engine(pg_url(self.template))
        migrate.upgrade(eng)
        eng.dispose()

    def new(self) -> str:
        name = f"sc_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return pg_url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        with self.admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def close(self) -> None:
        with self.admin.connect() as c:
            for name in [*self.made, self.template]:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()

"""The worker's migration builds what tables.py declares (no drift), on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stagecoach.store.db import make_engine
from stagecoach.store.tables import metadata


def test_migrated_schema_matches_the_tables(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []

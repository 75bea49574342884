"""The schema built by replaying migrations equals the one the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stagecoach.store.db import make_engine
from stagecoach.store.tables import metadata


def test_models_and_migrations_agree(db_url):
    # db_url is a fresh database built by replaying every migration (tests/dbs.py).
    engine = make_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"

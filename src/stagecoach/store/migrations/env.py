"""Alembic environment: runs against the connection handed in by store.migrate."""

from alembic import context

from stagecoach.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is None:
        raise RuntimeError("run migrations through stagecoach.store.migrate")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

"""files: column count of a dataset, read at upload

Revision ID: 0006_column_count
Revises: 0004_per_file
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_column_count"
down_revision = "0004_per_file"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not batch mode: on SQLite that would rebuild the files table that artifacts refer to.
    op.add_column("files", sa.Column("column_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE files DROP COLUMN column_count")

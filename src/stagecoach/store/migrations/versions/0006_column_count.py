"""files: column count of a dataset, read at upload

Revision ID: 0006_column_count
Revises: 0003_worker
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_column_count"
down_revision = "0003_worker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("column_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("column_count")

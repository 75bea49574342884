"""worker: queue counters for /metrics

Revision ID: 0003_worker
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_worker"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_queue_counters")),
    )


def downgrade() -> None:
    op.drop_table("queue_counters")

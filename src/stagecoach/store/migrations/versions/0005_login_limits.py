"""login limits: failed sign-ins per username and per client address

Revision ID: 0005_login_limits
Revises: 0006_column_count
"""

import sqlalchemy as sa
from alembic import op

from stagecoach.store.tables import UTCDateTime

revision = "0005_login_limits"
down_revision = "0006_column_count"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_limits",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_limits")),
    )


def downgrade() -> None:
    op.drop_table("login_limits")

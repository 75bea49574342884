"""per-file pipelines: the artifact (file) is the unit of work; jobs get an outcome

Each artifact gets its own pipeline, planned stages, attempts, lease and fence; the job's
lease columns go. Existing jobs are carried over: their artifacts take the job's pipeline,
stages (less "Uploading"), attempts and, while processing, its lease (so a worker of the old
version that is gone is found by the lease scan and its file requeued). Completed jobs get
``outcome = 'complete'``.

Revision ID: 0004_per_file
Revises: 0003_worker
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_per_file"
down_revision = "0003_worker"
branch_labels = None
depends_on = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as b:
        b.add_column(sa.Column("pipeline", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("stages", sa.JSON(), server_default="[]", nullable=False))
        b.add_column(
            sa.Column("claimable", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        b.add_column(sa.Column("queued_at", UTC_DT, nullable=True))
        b.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        b.add_column(sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False))
        b.add_column(sa.Column("run_after", UTC_DT, nullable=True))
        b.add_column(sa.Column("worker_id", sa.String(length=36), nullable=True))
        b.add_column(sa.Column("lease_token", sa.BigInteger(), server_default="0", nullable=False))
        b.add_column(sa.Column("lease_expires_at", UTC_DT, nullable=True))
        b.add_column(sa.Column("last_progress_at", UTC_DT, nullable=True))
        b.add_column(sa.Column("stalled", sa.Boolean(), server_default=sa.false(), nullable=False))
        b.create_index("ix_artifacts_queue", ["status", "claimable", "queued_at"], unique=False)
        b.create_index("ix_artifacts_lease", ["status", "lease_expires_at"], unique=False)
    op.add_column("jobs", sa.Column("outcome", sa.String(length=16), nullable=True))

    _carry_over()

    # Not batch mode: on SQLite that rebuilds the jobs table, and dropping the old one
    # would cascade-delete every artifact, timeline entry and result (foreign keys are on).
    # SQLite 3.35+ drops a column in place.
    op.drop_index("ix_jobs_lease", table_name="jobs")
    for name in _OLD_JOB_LEASE:
        op.execute(f"ALTER TABLE jobs DROP COLUMN {name}")


_OLD_JOB_LEASE = ("run_after", "worker_id", "lease_token", "lease_expires_at")


def _carry_over() -> None:
    conn = op.get_bind()
    jobs = sa.table(
        "jobs",
        sa.column("job_id", sa.String),
        sa.column("status", sa.String),
        sa.column("pipeline", sa.String),
        sa.column("stages", sa.JSON),
        sa.column("claimable", sa.Boolean),
        sa.column("attempts", sa.Integer),
        sa.column("max_attempts", sa.Integer),
        sa.column("created_at", UTC_DT),
        sa.column("run_after", UTC_DT),
        sa.column("worker_id", sa.String),
        sa.column("lease_token", sa.BigInteger),
        sa.column("lease_expires_at", UTC_DT),
        sa.column("last_progress_at", UTC_DT),
        sa.column("outcome", sa.String),
    )
    artifacts = sa.table(
        "artifacts",
        sa.column("job_id", sa.String),
        sa.column("status", sa.String),
        sa.column("pipeline", sa.String),
        sa.column("stages", sa.JSON),
        sa.column("claimable", sa.Boolean),
        sa.column("queued_at", UTC_DT),
        sa.column("attempts", sa.Integer),
        sa.column("max_attempts", sa.Integer),
        sa.column("run_after", UTC_DT),
        sa.column("worker_id", sa.String),
        sa.column("lease_token", sa.BigInteger),
        sa.column("lease_expires_at", UTC_DT),
        sa.column("last_progress_at", UTC_DT),
    )
    rows = conn.execute(sa.select(jobs)).mappings().all()
    for j in rows:
        stages = [s for s in (j["stages"] or []) if s != "Uploading"]
        values = {
            "pipeline": j["pipeline"],
            "stages": stages,
            "claimable": bool(j["claimable"]),
            "queued_at": j["created_at"],
            "attempts": j["attempts"] or 0,
            "max_attempts": j["max_attempts"] or 3,
        }
        if j["status"] == "processing" and j["claimable"]:
            values.update(
                worker_id=j["worker_id"],
                lease_token=j["lease_token"] or 0,
                lease_expires_at=j["lease_expires_at"],
                last_progress_at=j["last_progress_at"],
            )
        if j["status"] == "pending":
            values["run_after"] = j["run_after"]
        conn.execute(artifacts.update().where(artifacts.c.job_id == j["job_id"]).values(**values))
        if j["status"] == "processing" and j["claimable"]:
            # The job's lease was the files' lease: those still pending run under it too
            # until the scan requeues them.
            conn.execute(
                artifacts.update()
                .where(artifacts.c.job_id == j["job_id"], artifacts.c.status == "pending")
                .values(worker_id=None, lease_expires_at=None)
            )
        if j["status"] == "completed":
            conn.execute(
                jobs.update().where(jobs.c.job_id == j["job_id"]).values(outcome="complete")
            )


def downgrade() -> None:
    op.add_column("jobs", sa.Column("run_after", UTC_DT, nullable=True))
    op.add_column("jobs", sa.Column("worker_id", sa.String(length=36), nullable=True))
    op.add_column(
        "jobs", sa.Column("lease_token", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column("jobs", sa.Column("lease_expires_at", UTC_DT, nullable=True))
    op.create_index("ix_jobs_lease", "jobs", ["status", "lease_expires_at"], unique=False)
    op.execute("ALTER TABLE jobs DROP COLUMN outcome")
    with op.batch_alter_table("artifacts") as b:
        b.drop_index("ix_artifacts_lease")
        b.drop_index("ix_artifacts_queue")
        for name in (
            "stalled",
            "last_progress_at",
            "lease_expires_at",
            "lease_token",
            "worker_id",
            "run_after",
            "max_attempts",
            "attempts",
            "queued_at",
            "claimable",
            "stages",
            "pipeline",
        ):
            b.drop_column(name)

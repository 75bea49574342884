"""The schema, as SQLAlchemy Core tables. Alembic migrations build the same schema (a test
checks), and only `store/` issues SQL against it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _id(name: str, *args: Any, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.String(36), *args, **kw)


users = sa.Table(
    "users",
    metadata,
    _id("user_id", primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    _id("manager_id", sa.ForeignKey("users.user_id"), nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id("token_id", primary_key=True),
    _id("user_id", sa.ForeignKey("users.user_id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),  # api | session
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

files = sa.Table(
    "files",
    metadata,
    _id("file_id", primary_key=True),
    _id("owner_id", sa.ForeignKey("users.user_id"), nullable=False, index=True),
    sa.Column("original_name", sa.String(1024), nullable=False),
    sa.Column("stored_path", sa.String(512), nullable=True),  # storage key, never a client name
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("mime", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("upload_time", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # uploading | stored | failed | expired
    sa.Column("duration_seconds", sa.Float, nullable=True),
    sa.Column("page_count", sa.Integer, nullable=True),
    sa.Column("row_count", sa.Integer, nullable=True),
    sa.Column("column_count", sa.Integer, nullable=True),
)

jobs = sa.Table(
    "jobs",
    metadata,
    _id("job_id", primary_key=True),
    _id("owner_id", sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("pipeline", sa.String(64), nullable=True),
    # True: stagecoach's workers run the job's files (an upload); False: a job made by
    # POST /jobs, reported on from outside.
    sa.Column("claimable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_stage", sa.String(64), nullable=True),
    sa.Column("stages", sa.JSON, nullable=False),  # planned stage names
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("message", sa.String(1024), nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="3"),
    sa.Column("case_name", sa.String(200), nullable=True, index=True),
    _id("parent_job_id", sa.ForeignKey("jobs.job_id"), nullable=True),
    sa.Column("duration_processed", sa.Float, nullable=True),
    sa.Column("duration_total", sa.Float, nullable=True),
    sa.Column("unit", sa.String(32), nullable=True),
    sa.Column("seq", sa.BigInteger, nullable=True),  # last reporter sequence number applied
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("last_progress_at", UTCDateTime, nullable=True),
    sa.Column("stalled", sa.Boolean, nullable=False, server_default=sa.false()),
    # estimate, written with progress so a poll reads one row
    sa.Column("estimated_completion", UTCDateTime, nullable=True),
    sa.Column("eta_low", UTCDateTime, nullable=True),
    sa.Column("eta_high", UTCDateTime, nullable=True),
    # complete | partial, once completed: partial when some of its files failed
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("expired_at", UTCDateTime, nullable=True),  # retention removed its details
    sa.Index("ix_jobs_owner_status", "owner_id", "status", "created_at"),
    sa.Index("ix_jobs_queue", "status", "claimable", "created_at"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    _id("artifact_id", primary_key=True),
    _id("job_id", sa.ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False, index=True),
    _id("file_id", sa.ForeignKey("files.file_id"), nullable=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("filename", sa.String(1024), nullable=False),
    sa.Column("file_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_stage", sa.String(64), nullable=True),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("processing_stages", sa.JSON, nullable=False),  # stage -> seconds
    sa.Column("stage_units", sa.JSON, nullable=False),  # stage -> {unit, done, total}
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("error_message", sa.String(1024), nullable=True),
    # An artifact is the unit of work: its own pipeline, attempts, lease and fence.
    sa.Column("pipeline", sa.String(64), nullable=True),
    sa.Column("stages", sa.JSON, nullable=False, server_default="[]"),  # planned stage names
    sa.Column("claimable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("queued_at", UTCDateTime, nullable=True),  # claim order
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="3"),
    sa.Column("run_after", UTCDateTime, nullable=True),  # backoff before a retry may be claimed
    _id("worker_id", nullable=True),
    sa.Column("lease_token", sa.BigInteger, nullable=False, server_default="0"),  # fencing
    sa.Column("lease_expires_at", UTCDateTime, nullable=True),
    sa.Column("last_progress_at", UTCDateTime, nullable=True),
    sa.Column("stalled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_artifacts_queue", "status", "claimable", "queued_at"),
    sa.Index("ix_artifacts_lease", "status", "lease_expires_at"),
)

job_history = sa.Table(
    "job_history",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    _id("job_id", sa.ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column(
        "kind", sa.String(16), nullable=False
    ),  # created|status|stage|attempt|requeue|stall|...
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("stage", sa.String(64), nullable=True),
    _id("artifact_id", nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("message", sa.String(1024), nullable=True),
    sa.Index("ix_job_history_job_at", "job_id", "at", "entry_id"),
)

results = sa.Table(
    "results",
    metadata,
    _id("result_id", primary_key=True),
    _id("job_id", sa.ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False, index=True),
    _id("artifact_id", nullable=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("stored_path", sa.String(512), nullable=False),
    sa.Column("mime", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lease_token", sa.BigInteger, nullable=True),  # which claim wrote it
    sa.UniqueConstraint("job_id", "name"),
)

workers = sa.Table(
    "workers",
    metadata,
    _id("worker_id", primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pipelines", sa.JSON, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
    sa.Column("stopped_at", UTCDateTime, nullable=True),
)

stage_rates = sa.Table(
    "stage_rates",
    metadata,
    sa.Column("pipeline", sa.String(64), primary_key=True),
    sa.Column("stage", sa.String(64), primary_key=True),
    sa.Column("engine", sa.String(64), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),  # domain.rates serialised
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Monotonic queue counters (lease expiries, retries, claims) for /metrics, correct across
# processes and untouched by retention.
queue_counters = sa.Table(
    "queue_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
)

# The change feed: one row per job change, read by live-event streams in other processes.
job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    _id("job_id", nullable=False),
    _id("owner_id", nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
)

# Failed sign-ins per username and per client address (keys hashed), counted over a fixed
# window, shared by every API process so the limit holds across them.
login_limits = sa.Table(
    "login_limits",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)

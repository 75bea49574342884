"""SQL an upload needs beyond creating its job: more artifacts, completion, and removal."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import Artifact, HistoryEntry, Job
from stagecoach.domain.status import JobStatus
from stagecoach.store import jobs as jobs_store
from stagecoach.store.tables import artifacts, files, job_events, job_history, jobs


def add_artifact(conn: Connection, job_id: str, file_id: str, position: int, name: str) -> None:
    jobs_store.insert_artifact(
        conn,
        Artifact(
            artifact_id=str(uuid.uuid4()),
            job_id=job_id,
            file_id=file_id,
            position=position,
            filename=name,
            file_type="other",
            status=JobStatus.PENDING,
        ),
    )


def set_artifact_types(conn: Connection, job_id: str, types: dict[str, str]) -> None:
    for file_id, file_type in types.items():
        conn.execute(
            artifacts.update()
            .where(artifacts.c.job_id == job_id, artifacts.c.file_id == file_id)
            .values(file_type=file_type)
        )


def job_uploaded(conn: Connection, old: Job, new: Job, now: datetime, message: str) -> None:
    """Every file is in: write the job's plan (claimable by workers from now on), a timeline
    entry and a change-feed row. The caller holds the job's lock."""
    jobs_store.save_job(conn, old, new)
    jobs_store.append_history(
        conn,
        [
            HistoryEntry(
                job_id=new.job_id,
                at=now,
                kind="uploaded",
                status=str(new.status),
                stage=new.current_stage,
                attempt=new.attempts,
                message=message,
            )
        ],
    )
    jobs_store.record_change(conn, new, now)


def files_failed(conn: Connection, file_ids: list[str]) -> None:
    conn.execute(
        files.update()
        .where(files.c.file_id.in_(file_ids))
        .values(status="failed", stored_path=None)
    )


def artifacts_failed(conn: Connection, job_id: str, now: datetime, message: str) -> None:
    conn.execute(
        artifacts.update()
        .where(artifacts.c.job_id == job_id, artifacts.c.status == str(JobStatus.PENDING))
        .values(status=str(JobStatus.FAILED), completed_at=now, error_message=message)
    )


def discard(conn: Connection, job_id: str | None, file_ids: list[str]) -> None:
    """Remove an upload that was refused: its job with everything hanging off it, its files."""
    if job_id is not None:
        for table in (job_events, job_history, artifacts):
            conn.execute(sa.delete(table).where(table.c.job_id == job_id))
        conn.execute(sa.delete(jobs).where(jobs.c.job_id == job_id))
    if file_ids:
        conn.execute(sa.delete(files).where(files.c.file_id.in_(file_ids)))


def abandoned_uploads(
    conn: Connection, started_before: datetime
) -> dict[str, list[dict[str, str]]]:
    """Files still "uploading" since before ``started_before`` (their server went away),
    grouped by job: job_id -> [{file_id, stored_path, owner_id}]."""
    rows = conn.execute(
        sa.select(artifacts.c.job_id, files.c.file_id, files.c.stored_path, files.c.owner_id)
        .join(artifacts, artifacts.c.file_id == files.c.file_id)
        .where(files.c.status == "uploading", files.c.upload_time < started_before)
    ).mappings()
    out: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        out.setdefault(r["job_id"], []).append(dict(r))
    return out

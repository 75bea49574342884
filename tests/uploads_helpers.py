"""Helpers for upload tests: raw multipart bodies (hostile names need bytes httpx would not
send) and what an upload left behind in the database and on disk."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from stagecoach.services.registry import Services
from stagecoach.store.tables import artifacts, files, job_events, job_history, jobs

UPLOAD = "/api/v1/upload"


def multipart(
    files: list[tuple[bytes | str, bytes]],
    fields: dict[str, str] | None = None,
    field_name: str = "files",
) -> tuple[bytes, str]:
    """A multipart/form-data body; file names go in as given (bytes stay raw)."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in (fields or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for filename, data in files:
        raw = filename if isinstance(filename, bytes) else filename.encode()
        raw = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="'
        ).encode() + raw
        out += b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def upload(
    client: Any, headers: dict[str, str], files: list[tuple[bytes | str, bytes]], **fields: str
) -> Any:
    body, ctype = multipart(files, {k: v for k, v in fields.items() if v is not None})
    return client.post(UPLOAD, content=body, headers={**headers, "Content-Type": ctype})


def row_counts(services: Services) -> dict[str, int]:
    with services.ctx.db.read() as conn:
        return {
            t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (files, jobs, artifacts, job_history, job_events)
        }


def blobs(services: Services) -> list[Path]:
    root = services.ctx.settings.files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_nothing_left(services: Services) -> None:
    assert row_counts(services) == {
        "files": 0,
        "jobs": 0,
        "artifacts": 0,
        "job_history": 0,
        "job_events": 0,
    }
    assert blobs(services) == []


def job_row(services: Services, job_id: str) -> dict[str, Any]:
    with services.ctx.db.read() as conn:
        return dict(conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).mappings().one())


def file_rows(services: Services) -> list[dict[str, Any]]:
    with services.ctx.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(files)).mappings()]


def run_files(services: Services, job_id: str, fail: set[str] | None = None) -> None:
    """Play a worker for ``job_id``, in this process: claim each of its files through the
    queue and end it, completed (with no stages run) or failed permanently when its name is
    in ``fail``. The same service calls a real worker makes."""
    from stagecoach.domain.errors import ErrorCategory, JobError

    names = {name: p.stage_names for name, p in services.pipelines.items()}
    while True:
        claim = services.queue.claim("test-worker", names)
        if claim is None:
            return
        assert claim.job.job_id == job_id, "another job's file was claimed"
        error = None
        if fail and claim.artifact.filename in fail:
            error = JobError("bad_input", ErrorCategory.INPUT, False, "could not be read", "fix it")
        services.queue.finish_artifact(job_id, claim.token, claim.artifact, error=error)

"""Result files of a job: list them, open one for download (owner and their managers only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagecoach.domain.contract import iso
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import NotFound
from stagecoach.storage.base import Storage
from stagecoach.store import jobs as jobs_store
from stagecoach.store import results as store


@dataclass(frozen=True)
class ResultDownload:
    name: str
    key: str  # storage key
    mime: str
    size: int


class Results:
    def __init__(self, ctx: ServiceContext, storage: Storage) -> None:
        self.ctx = ctx
        self.storage = storage

    def list_results(
        self, viewer: User, job_id: str, base_url: str = "/api/v1"
    ) -> list[dict[str, Any]]:
        with self.ctx.db.read() as conn:
            self._visible(conn, viewer, job_id)
            rows = store.job_results(conn, job_id)
        return [
            {
                "name": r["name"],
                "size": r["size"],
                "mime": r["mime"],
                "artifact_id": r["artifact_id"],
                "filename": r["artifact_filename"],
                "created_at": iso(r["created_at"]),
                "url": f"{base_url}/jobs/{job_id}/results/{r['name']}",
            }
            for r in rows
        ]

    def open_result(self, viewer: User, job_id: str, name: str) -> ResultDownload:
        with self.ctx.db.read() as conn:
            job = self._visible(conn, viewer, job_id)
            row = store.get_result(conn, job_id, name)
        if row is None:
            if job.expired_at is not None:
                raise NotFound(
                    f"job {job_id} expired on {iso(job.expired_at)}; its results were removed"
                )
            raise NotFound(f"job {job_id} has no result named {name!r}")
        size = self.storage.size(row["stored_path"])
        if size is None:
            raise NotFound(f"result {name!r} of job {job_id} is missing from storage")
        return ResultDownload(row["name"], row["stored_path"], row["mime"], size)

    def _visible(self, conn, viewer: User, job_id: str):  # type: ignore[no-untyped-def]
        job = jobs_store.get_visible_job(conn, viewer, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

"""Result files of a job: list them, open one for download (owner and their managers only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagecoach.domain.contract import iso
from stagecoach.domain.filenames import download_name
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import NotFound
from stagecoach.storage.base import Storage
from stagecoach.store import jobs as jobs_store
from stagecoach.store import results as store

PREVIEW_CHARS = 1500
"""How much of a transcript the job page shows before "Show all"."""


@dataclass(frozen=True)
class ResultDownload:
    name: str
    key: str  # storage key
    mime: str
    size: int
    download_name: str


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
                "download_name": download_name(r["artifact_filename"], r["name"]),
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
        return ResultDownload(
            row["name"],
            row["stored_path"],
            row["mime"],
            size,
            download_name(row["artifact_filename"], row["name"]),
        )

    def preview(
        self, viewer: User, job_id: str, name: str, max_chars: int = PREVIEW_CHARS
    ) -> tuple[str, bool]:
        """The first paragraphs of a text result, and whether there is more."""
        r = self.open_result(viewer, job_id, name)
        want = max_chars * 4 + 4
        head = b"".join(self.storage.read(r.key, 0, min(want, r.size) - 1)) if r.size else b""
        text = head.decode("utf-8", errors="ignore")
        if len(text) <= max_chars and len(head) < max_chars * 4 + 4:
            return text.strip(), False
        cut = text[:max_chars]
        # end at a paragraph, else a sentence, else a word
        for mark in ("\n\n", ". ", " "):
            at = cut.rfind(mark)
            if at > max_chars // 3:
                cut = cut[: at + (1 if mark == ". " else 0)]
                break
        return cut.strip(), True

    def _visible(self, conn, viewer: User, job_id: str):  # type: ignore[no-untyped-def]
        job = jobs_store.get_visible_job(conn, viewer, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

"""Files: what was uploaded, and its stored content, for those who may see its job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagecoach.domain.contract import iso
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import Conflict, NotFound
from stagecoach.storage.base import Storage
from stagecoach.store import files as store


@dataclass(frozen=True)
class FileContent:
    path: Path
    size: int
    mime: str
    name: str  # display text for Content-Disposition, never a path
    sha256: str | None


class Files:
    def __init__(self, ctx: ServiceContext, storage: Storage) -> None:
        self.ctx = ctx
        self.storage = storage

    def _visible(self, viewer: User, file_id: str) -> tuple[Any, list[str]]:
        with self.ctx.db.read() as conn:
            row = store.get_visible_file(conn, viewer, file_id)
            if row is None:
                # Another user's file answers exactly as a missing one.
                raise NotFound(f"file {file_id} not found")
            return row, store.job_ids_for_file(conn, file_id)

    def metadata(self, viewer: User, file_id: str) -> dict[str, Any]:
        row, job_ids = self._visible(viewer, file_id)
        return {
            "file_id": row["file_id"],
            "original_name": row["original_name"],
            "stored_path": row["stored_path"],
            "type": row["type"],
            "mime": row["mime"],
            "size": row["size"],
            "sha256": row["sha256"],
            "upload_time": iso(row["upload_time"]),
            "status": row["status"],
            "duration_seconds": row["duration_seconds"],
            "page_count": row["page_count"],
            "row_count": row["row_count"],
            "column_count": row["column_count"],
            "job_ids": job_ids,
            "links": {
                "self": f"/api/v1/files/{file_id}",
                "content": f"/api/v1/files/{file_id}/content",
            },
        }

    def content(self, viewer: User, file_id: str) -> FileContent:
        row, _ = self._visible(viewer, file_id)
        if row["status"] != "stored" or not row["stored_path"]:
            raise Conflict(
                f"file {file_id} has no stored content (its status is '{row['status']}')"
            )
        path = self.storage.path(row["stored_path"])
        if not path.is_file():
            raise NotFound(f"file {file_id} content is no longer stored")
        return FileContent(
            path=path,
            size=path.stat().st_size,
            mime=row["mime"],
            name=row["original_name"],
            sha256=row["sha256"],
        )

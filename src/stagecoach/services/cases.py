"""Cases: names that group jobs; a later upload with the same name extends the case."""

from __future__ import annotations

from typing import Any

from stagecoach.domain.contract import iso
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import NotFound
from stagecoach.store import cases as store


class Cases:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def list_cases(self, viewer: User) -> list[dict[str, Any]]:
        with self.ctx.db.read() as conn:
            rows = store.list_cases(conn, viewer)
        return [
            {
                "case_name": r["case_name"],
                "job_count": int(r["job_count"]),
                "last_activity": iso(r["last_activity"]),
            }
            for r in rows
        ]

    def case_jobs(self, viewer: User, case_name: str) -> dict[str, Any]:
        with self.ctx.db.read() as conn:
            rows = store.case_jobs(conn, viewer, case_name)
        if not rows:
            # A case made only of others' jobs answers exactly as one that does not exist.
            raise NotFound(f"case '{case_name}' not found")
        return {
            "case_name": case_name,
            "jobs": [
                {
                    "job_id": r["job_id"],
                    "status": "expired" if r["expired_at"] is not None else r["status"],
                    "total_files": int(r["total_files"] or 0),
                    "processed_files": int(r["processed_files"] or 0),
                    "parent_job_id": r["parent_job_id"],
                    "created_at": iso(r["created_at"]),
                    "completed_at": iso(r["finished_at"]) if r["status"] == "completed" else None,
                }
                for r in rows
            ],
        }

"""Process a cancelled job again, from the files it already stored: a new job over the same
files, in the same case, extending the cancelled one (``parent_job_id``)."""

from __future__ import annotations

from typing import Any

from stagecoach.domain.records import User
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import Conflict, NotFound
from stagecoach.services.tracking import NewJob, Tracking
from stagecoach.store import accounts as accounts_store
from stagecoach.store import files as files_store
from stagecoach.store import jobs as jobs_store


class Reprocess:
    def __init__(self, ctx: ServiceContext, tracking: Tracking) -> None:
        self.ctx = ctx
        self.tracking = tracking

    def process_again(self, viewer: User, job_id: str) -> dict[str, Any]:
        """The new job's status document. The new job is the cancelled job's owner's, as
        its files are."""
        with self.ctx.db.read() as conn:
            job = jobs_store.get_visible_job(conn, viewer, job_id)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            if job.status is not JobStatus.CANCELLED or not job.claimable:
                raise Conflict(
                    f"only cancelled jobs stagecoach ran can be processed again; job is "
                    f"'{job.status}'"
                )
            file_ids = [a.file_id for a in jobs_store.job_artifacts(conn, job_id) if a.file_id]
            for fid in file_ids:
                f = files_store.get_file(conn, fid)
                if f is None or f["stored_path"] is None or f["status"] != "stored":
                    raise Conflict("the files of this job are no longer stored; upload them again")
            owner = accounts_store.user_by_id(conn, job.owner_id)
        if owner is None or not file_ids:
            raise Conflict("this job cannot be processed again; upload the files again")
        return self.tracking.create_job(
            owner,
            NewJob(
                related_file_ids=file_ids,
                pipeline=job.pipeline,
                stages=list(job.stages),
                case_name=job.case_name,
                parent_job_id=job.job_id,
                duration_total=job.duration_total,
                unit=job.unit,
                claimable=True,
            ),
        )

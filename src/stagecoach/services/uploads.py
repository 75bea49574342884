"""Uploads: receive files as a stream, store them, and start a tracked job.

The job exists from the first file on (pending, stage Uploading), with one artifact per
file, none claimable yet. Each file goes to storage in chunks under a generated key while its
size and sha256 are computed; its type is read from its first bytes, its media facts
(duration, pages, rows) from the stored file, and its pipeline from its type (or the one
asked for, if it takes that type). When every file is in, the files are marked stored, each
artifact gets its pipeline and planned stages and becomes claimable: each file runs on its
own, in parallel across worker slots.

Bad input (too large, too many files, empty, wrong or unknown type, an unknown parent)
leaves nothing behind: no blob, no file record, no job. A client that goes away, or a full
disk, leaves the job ``failed`` with the reason, and removes the partial blobs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, BinaryIO, TypeVar

import anyio
from anyio.to_thread import run_sync
from sqlalchemy.engine import Connection

from stagecoach.domain.errors import (
    JobError,
    storage_full_error,
    upload_failed_error,
    upload_interrupted_error,
    without_paths,
)
from stagecoach.domain.filenames import case_name_text, display_name
from stagecoach.domain.progress import UNIT_FACT
from stagecoach.domain.records import User
from stagecoach.domain.status import JobStatus
from stagecoach.media.detect import ALL_FORMATS, HEAD_BYTES, Format, Rejected, detect
from stagecoach.media.probe import MediaFacts, probe
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.registry import pipeline_for_file_type
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import (
    InsufficientStorage,
    Invalid,
    NotFound,
    ServiceError,
    TooLarge,
    UnsupportedMedia,
)
from stagecoach.services.tracking import NewJob, Tracking, new_artifact
from stagecoach.storage.base import Storage
from stagecoach.store import files as files_store
from stagecoach.store import jobs as jobs_store
from stagecoach.store import uploads as uploads_store

log = logging.getLogger("stagecoach.uploads")
T = TypeVar("T")

WRITE_BLOCK = 1 << 20  # bytes gathered before one write + hash, off the event loop
# An upload still running after this long lost its server (crash, restart); see fail_abandoned.
ABANDONED_AFTER = 24 * 3600.0

UPLOADING = "Uploading"  # the stage every uploaded job starts in, before its pipeline's


# --- the events a multipart reader hands in ------------------------------------------------


@dataclass(frozen=True)
class FieldPart:
    name: str
    value: str


@dataclass(frozen=True)
class FileStart:
    field: str
    filename: bytes | str
    content_type: str


@dataclass(frozen=True)
class FileData:
    data: bytes


@dataclass(frozen=True)
class FileEnd:
    pass


Part = FieldPart | FileStart | FileData | FileEnd


class UploadInterrupted(ServiceError):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str = "the upload was interrupted before it finished") -> None:
        super().__init__(detail)


@dataclass
class _Incoming:
    """One file being received."""

    index: int
    file_id: str
    key: str
    name: str
    writer: BinaryIO | None = None
    hasher: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    pending: bytearray = field(default_factory=bytearray)
    format: Format | None = None
    facts: MediaFacts | None = None
    pipeline: str | None = None
    done: bool = False

    @property
    def label(self) -> str:
        return f"file {self.index + 1} '{self.name}'"


class Uploads:
    def __init__(self, ctx: ServiceContext, tracking: Tracking, storage: Storage) -> None:
        self.ctx = ctx
        self.tracking = tracking
        self.storage = storage

    @property
    def pipelines(self) -> Mapping[str, Pipeline]:
        return self.tracking.estimates.pipelines

    @property
    def max_file_bytes(self) -> int:
        return self.ctx.settings.max_upload_mb * 2**20

    @property
    def accepted_formats(self) -> tuple[str, ...]:
        raw = self.ctx.settings.upload_formats
        return tuple(f.strip().lower() for f in raw.split(",") if f.strip()) or ALL_FORMATS

    async def receive(
        self, owner: User, parts: AsyncIterator[Part], *, content_length: int | None = None
    ) -> dict[str, Any]:
        """Receive one upload; returns the job's status document."""
        settings = self.ctx.settings
        most = self.max_file_bytes * settings.max_files_per_upload + 2**20 * 4
        if content_length is not None and content_length > most:
            raise TooLarge(
                f"the upload is larger than {settings.max_files_per_upload} files of "
                f"{settings.max_upload_mb} MiB each"
            )
        run = _Upload(self, owner)
        try:
            async with aclosing(parts) as events:  # type: ignore[type-var]
                async for event in events:
                    await run.on(event)
            return await run.finish()
        except UploadInterrupted:
            with anyio.CancelScope(shield=True):
                await run.fail(upload_interrupted_error(), "upload interrupted")
            raise
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                with anyio.CancelScope(shield=True):
                    why = f"storage error: {without_paths(str(exc))}"
                    await run.fail(upload_failed_error(), why)
                raise
            with anyio.CancelScope(shield=True):
                await run.fail(storage_full_error(), "disk full")
            raise InsufficientStorage(
                "the server ran out of storage space while saving the upload; nothing was "
                "kept. Try again later or ask an administrator to free space."
            ) from None
        except ServiceError:
            with anyio.CancelScope(shield=True):
                await run.discard()
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run.fail(upload_failed_error(), "upload failed")
            raise

    def fail_abandoned(self, older_than_seconds: float = ABANDONED_AFTER) -> int:
        """Fail the jobs of uploads whose server stopped mid-way (a crash, a restart): files
        still "uploading" long after they started. Returns how many jobs were failed."""
        cutoff = self.ctx.clock() - timedelta(seconds=older_than_seconds)
        with self.ctx.db.read() as conn:
            found = uploads_store.abandoned_uploads(conn, cutoff)
        for job_id, rows in found.items():
            for r in rows:
                if r["stored_path"]:
                    self.storage.delete(r["stored_path"])
            self.fail_upload(
                job_id, [r["file_id"] for r in rows], upload_interrupted_error(), "upload abandoned"
            )
            log.warning("abandoned upload failed", extra={"job_id": job_id})
        return len(found)

    def fail_upload(self, job_id: str, file_ids: list[str], error: JobError, why: str) -> None:
        """An upload that broke off: its files failed with ``error``, so the job fails."""
        with contextlib.suppress(NotFound), self.tracking.uow.change(job_id) as ch:
            if ch.job.status is not JobStatus.PENDING:
                return
            uploads_store.files_failed(ch.conn, file_ids)
            for a in ch.files:
                if a.status is JobStatus.PENDING:
                    ch.put(
                        a.evolve(
                            status=JobStatus.FAILED,
                            claimable=False,
                            error=error.to_dict(),
                            error_message=error.message,
                        )
                    )
            ch.note("status", why, status=str(JobStatus.FAILED))


class _Upload:
    """The state of one upload request."""

    def __init__(self, uploads: Uploads, owner: User) -> None:
        self.u = uploads
        self.owner = owner
        self.files: list[_Incoming] = []
        self.current: _Incoming | None = None
        self.job_id: str | None = None
        self.case_name: str | None = None
        self.parent_job_id: str | None = None
        self.pipeline: str | None = None

    async def _db(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        def work() -> T:
            with self.u.ctx.db.write() if write else self.u.ctx.db.read() as conn:
                return fn(conn)

        return await run_sync(work)

    # --- events ---------------------------------------------------------------------------
    async def on(self, event: Part) -> None:
        if isinstance(event, FileData):
            await self._data(event.data)
        elif isinstance(event, FileStart):
            await self._start(event)
        elif isinstance(event, FileEnd):
            await self._end()
        elif isinstance(event, FieldPart):
            await self._field(event.name, event.value)

    async def _field(self, name: str, value: str) -> None:
        value = value.strip()
        if name == "case_name":
            try:
                self.case_name = case_name_text(value)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        elif name == "parent_job_id":
            if len(value) > 36:
                raise NotFound("parent job not found")
            self.parent_job_id = value or None
            if self.parent_job_id and self.job_id is None:
                await self._check_parent()
        elif name == "pipeline":
            known = self.u.pipelines
            if value and value not in known:
                raise Invalid(f"unknown pipeline '{value[:64]}'; one of: {', '.join(known)}")
            self.pipeline = value or None
        # Other fields are ignored, as browsers send their submit buttons too.

    async def _check_parent(self) -> None:
        pid = self.parent_job_id
        assert pid is not None
        found = await self._db(
            lambda c: jobs_store.get_visible_job(c, self.owner, pid), write=False
        )
        if found is None:
            raise NotFound(f"parent job {pid} not found")

    async def _start(self, event: FileStart) -> None:
        if event.field not in ("files", "file"):
            raise Invalid(f"unexpected file field '{event.field[:64]}'; send files as 'files'")
        limit = self.u.ctx.settings.max_files_per_upload
        if len(self.files) >= limit:
            raise TooLarge(f"too many files: at most {limit} per upload")
        file_id = str(uuid.uuid4())
        inc = _Incoming(
            index=len(self.files),
            file_id=file_id,
            key=f"uploads/{file_id[:2]}/{file_id}",  # never the client's name
            name=display_name(event.filename),
        )
        self.files.append(inc)
        self.current = inc
        if self.job_id is None:
            await run_sync(lambda: self.u.tracking.estimates.prepare(queue=True))
        await self._db(lambda c: self._record_start(c, inc))
        inc.writer = await run_sync(self.u.storage.open_write, inc.key)

    def _record_start(self, conn: Connection, inc: _Incoming) -> None:
        now = self.u.ctx.clock()
        files_store.insert_file(
            conn,
            file_id=inc.file_id,
            owner_id=self.owner.user_id,
            original_name=inc.name,
            stored_path=inc.key,
            type="other",
            mime="application/octet-stream",
            size=0,
            upload_time=now,
            status="uploading",
        )
        if self.job_id is None:
            doc = self.u.tracking.create_job(
                self.owner,
                NewJob(
                    related_file_ids=[inc.file_id],
                    pipeline=self.pipeline,
                    stages=[UPLOADING],
                    case_name=self.case_name,
                    parent_job_id=self.parent_job_id,
                    claimable=True,
                ),
                conn=conn,
            )
            self.job_id = doc["job_id"]
        else:
            with self.u.tracking.uow.within(conn, self.job_id) as ch:
                ch.add(
                    new_artifact(
                        ch.job,
                        {"file_id": inc.file_id, "original_name": inc.name, "type": "other"},
                        inc.index,
                        pipeline=None,
                    )
                )

    async def _data(self, data: bytes) -> None:
        inc = self.current
        if inc is None:
            return
        if inc.size + len(inc.pending) + len(data) > self.u.max_file_bytes:
            raise TooLarge(
                f"{inc.label} is larger than the limit of {self.u.ctx.settings.max_upload_mb} "
                "MiB per file"
            )
        inc.pending += data
        if inc.format is None and len(inc.pending) >= HEAD_BYTES:
            self._detect(inc, complete=False)
        if len(inc.pending) >= WRITE_BLOCK:
            await self._flush(inc)

    def _detect(self, inc: _Incoming, *, complete: bool) -> None:
        try:
            inc.format = detect(
                bytes(inc.pending[:HEAD_BYTES]),
                inc.name,
                complete=complete,
                accepted=self.u.accepted_formats,
            )
        except Rejected as exc:
            raise _rejection(inc, exc) from None

    async def _flush(self, inc: _Incoming) -> None:
        block = bytes(inc.pending)
        inc.pending.clear()
        writer = inc.writer
        assert writer is not None

        def write() -> None:
            writer.write(block)
            inc.hasher.update(block)

        await run_sync(write)
        inc.size += len(block)

    async def _end(self) -> None:
        inc = self.current
        if inc is None:
            return
        self.current = None
        if inc.size == 0 and not inc.pending:
            raise Invalid(f"{inc.label}: the file is empty")
        if inc.format is None:
            self._detect(inc, complete=True)
        await self._flush(inc)
        assert inc.writer is not None and inc.format is not None
        await run_sync(inc.writer.close)
        fmt = inc.format
        local = await run_sync(self.u.storage.local_path, inc.key)
        try:
            inc.facts = await run_sync(probe, local, fmt)
        except Rejected as exc:
            raise _rejection(inc, exc) from None
        finally:
            self.u.storage.discard_local(local)
        inc.pipeline = self._pipeline_for(inc)
        inc.done = True

    def _pipeline_for(self, inc: _Incoming) -> str:
        """The file's own pipeline: the one asked for if it takes this kind of file, else the
        one for its kind. A file no pipeline takes is refused here, by name."""
        assert inc.facts is not None
        found = choose_pipeline(inc.facts.file_type, self.pipeline, self.u.pipelines)
        if found is None:
            kinds = sorted({t for p in self.u.pipelines.values() for t in p.file_types})
            raise UnsupportedMedia(
                f"{inc.label}: no pipeline here takes {inc.facts.file_type} files; "
                f"accepted kinds: {', '.join(kinds)}"
            )
        return found

    # --- the end ----------------------------------------------------------------------------
    async def finish(self) -> dict[str, Any]:
        if not self.files:
            raise Invalid("no files: send one or more files in the 'files' field")
        if self.current is not None or not all(f.done for f in self.files):
            raise Invalid("the multipart body ended inside a file")
        asked = self.pipeline
        if asked is not None and all(inc.pipeline != asked for inc in self.files):
            p = self.u.pipelines[asked]
            found = sorted({inc.facts.file_type for inc in self.files if inc.facts is not None})
            raise UnsupportedMedia(
                f"the {asked} pipeline cannot process {', '.join(found)} files (it takes "
                f"{', '.join(p.accepts or p.file_types)}); leave pipeline out to choose by "
                "file type"
            )
        job_id = self.job_id
        assert job_id is not None
        await run_sync(self._complete)
        log.info(
            "upload stored",
            extra={
                "job_id": job_id,
                "files": len(self.files),
                "bytes": sum(f.size for f in self.files),
            },
        )
        return await run_sync(self.u.tracking.status, self.owner, job_id)

    def _complete(self) -> None:
        """Every file is in: each gets its pipeline and planned stages and becomes claimable;
        the job gets its unit and total. One unit of work."""
        assert self.job_id is not None
        pipelines = self.u.pipelines
        with self.u.tracking.uow.change(self.job_id) as ch:
            conn = ch.conn
            pid = self.parent_job_id
            if pid is not None and jobs_store.get_visible_job(conn, self.owner, pid) is None:
                raise NotFound(f"parent job {pid} not found")
            # The job's unit is its first file pipeline's first stage's (audio seconds,
            # pages, rows, bytes); its total counts the files measured in it.
            first = self.files[0].pipeline
            assert first is not None
            unit = pipelines[first].stages[0].unit
            fact_name = UNIT_FACT.get(unit, "size")
            amounts: list[float] = []
            by_file = {a.file_id: a for a in ch.files}
            for inc in self.files:
                f = inc.facts
                assert f is not None and inc.pipeline is not None
                pipeline = pipelines[inc.pipeline]
                if pipeline.stages[0].unit == unit:
                    value = inc.size if fact_name == "size" else getattr(f, fact_name)
                    if value is not None:
                        amounts.append(float(value))
                files_store.complete_file(
                    conn,
                    inc.file_id,
                    type=f.file_type,
                    mime=f.format.mime,
                    size=inc.size,
                    sha256=inc.hasher.hexdigest(),
                    status="stored",
                    duration_seconds=f.duration_seconds,
                    page_count=f.page_count,
                    row_count=f.row_count,
                    column_count=f.column_count,
                )
                a = by_file[inc.file_id]
                ch.put(
                    a.evolve(
                        file_type=f.file_type,
                        pipeline=pipeline.name,
                        stages=pipeline.stage_names,
                        claimable=True,
                        queued_at=ch.now,
                        duration_seconds=f.duration_seconds,
                        page_count=f.page_count,
                        row_count=f.row_count,
                        size=inc.size,
                    )
                )
            names = {inc.pipeline for inc in self.files}
            ch.set_job(
                ch.job.evolve(
                    pipeline=names.pop() if len(names) == 1 else None,
                    unit=unit,
                    duration_total=round(sum(amounts), 3) if amounts else None,
                    case_name=self.case_name,
                    parent_job_id=self.parent_job_id,
                )
            )
            total = sum(f.size for f in self.files)
            ch.note("uploaded", f"upload complete: {len(self.files)} file(s), {total} bytes")
            # A fresh estimate from the media facts just stored, not smoothed from the guess
            # made before the files were known.
            ch.new_attempt = True

    # --- when it goes wrong ---------------------------------------------------------------------
    async def _remove_blobs(self) -> None:
        def remove() -> None:
            for inc in self.files:
                if inc.writer is not None:
                    # A full disk may refuse the last flush; the blob goes anyway.
                    with contextlib.suppress(OSError):
                        inc.writer.close()
                self.u.storage.delete(inc.key)

        await run_sync(remove)

    async def discard(self) -> None:
        """Bad input: remove everything this upload started."""
        await self._remove_blobs()
        if self.files:
            ids = [f.file_id for f in self.files]
            job_id = self.job_id

            def discard(c: Connection) -> None:
                uploads_store.discard(c, job_id, ids)
                if job_id is not None:
                    self.u.ctx.jobs_changed(c, [job_id])

            await self._db(discard)

    async def fail(self, error: JobError, why: str) -> None:
        """The upload broke off: the job is failed with ``error``, partial blobs removed."""
        await self._remove_blobs()
        if self.job_id is None:
            if self.files:  # the job was never made, so its file rows go too
                ids = [f.file_id for f in self.files]
                await self._db(lambda c: uploads_store.discard(c, None, ids))
            return
        job_id = self.job_id
        ids = [f.file_id for f in self.files]
        try:
            # Files and artifacts with the job, so whoever sees the job failed sees them too.
            await run_sync(self.u.fail_upload, job_id, ids, error, why)
        except Exception:
            log.exception("could not mark the broken upload's job failed", extra={"job_id": job_id})
        log.warning("upload failed: %s", why, extra={"job_id": job_id})


def choose_pipeline(
    file_type: str, asked: str | None, pipelines: Mapping[str, Pipeline]
) -> str | None:
    """A file's pipeline: the one asked for when it takes this kind of file, else the one for
    the kind, else any that takes it; None when none does."""
    if asked is not None and asked in pipelines and pipelines[asked].takes(file_type):
        return asked
    default = pipeline_for_file_type(file_type)
    if default in pipelines and file_type in pipelines[default].file_types:
        return default
    for p in pipelines.values():
        if file_type in p.file_types:
            return p.name
    return None


def _rejection(inc: _Incoming, exc: Rejected) -> ServiceError:
    detail = f"{inc.label}: {exc.reason}"
    return UnsupportedMedia(detail) if exc.status == 415 else Invalid(detail)

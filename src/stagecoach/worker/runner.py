"""One claimed file (artifact), run by one thread of the worker in a stage host process, its
reports relayed to the database coalesced: at most one write per file per
``progress_write_interval`` (stage boundaries included), and the final write with the
results."""

from __future__ import annotations

import json
import logging
import mimetypes
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from stagecoach.domain import queue_rules as rules
from stagecoach.domain.contract import iso
from stagecoach.domain.errors import ErrorCategory, JobError
from stagecoach.domain.progress_text import resume_note
from stagecoach.domain.records import Artifact
from stagecoach.pipelines.base import ArtifactInput, Pipeline
from stagecoach.services.estimates import stage_options
from stagecoach.services.housekeeping import remove_work_dirs, work_dir_name
from stagecoach.services.queue import Claim, LeaseLost, ResultFile, checkpoint_key
from stagecoach.worker.child import StageHost, StageSpec

if TYPE_CHECKING:
    from stagecoach.worker.worker import Worker

log = logging.getLogger("stagecoach.worker")

CHILD_REPORT_INTERVAL = 0.05  # the child sends at most 20 reports a second
ABORT_GRACE = 0.5  # seconds a stage gets to notice should_abort() before it is terminated
_ENDS = ("done", "error", "exception")


class Stop(Exception):
    """The file must stop here: cancelled, lost, or the worker is shutting down."""


class FileRunner:
    """One claimed file (artifact), run by one thread of the worker through its pipeline's
    stages in a stage host process."""

    def __init__(self, worker: Worker, claim: Claim, pipeline: Pipeline) -> None:
        self.worker = worker
        self.queue = worker.queue
        self.claim = claim
        self.job_id = claim.job.job_id
        self.artifact_id = claim.artifact.artifact_id
        self.token = claim.token
        self.pipeline = pipeline
        self.state = "ok"  # set by the worker's monitor: cancelled | lost | stopping
        self.changed = threading.Event()
        self.interval = worker.settings.progress_write_interval
        self.work_root = (
            worker.settings.data_dir / "work" / work_dir_name(self.artifact_id, self.token)
        )
        self.thread = threading.Thread(
            target=self.run, name=f"file-{self.artifact_id[:8]}", daemon=True
        )
        self.progress_calls = 0  # reporter calls relayed (the benchmark reads it)

    def set_state(self, state: str) -> None:
        if self.state == "ok":
            self.state = state
            self.changed.set()

    # --- the file ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            # A worker killed mid-stage left its scratch files here; they go now.
            remove_work_dirs(self.worker.settings.data_dir, self.artifact_id)
            self._check()
            self.run_artifact(self.claim.artifact)
        except (Stop, LeaseLost) as exc:
            reason = exc.reason if isinstance(exc, LeaseLost) else self.state
            self._stopped(reason)
        except Exception:
            log.exception(
                "file runner failed", extra={"job_id": self.job_id, "artifact_id": self.artifact_id}
            )
            # The lease is left to expire: the file is requeued by a scan, attempt counted.
        finally:
            shutil.rmtree(self.work_root, ignore_errors=True)
            self.worker.runner_done(self)

    def _check(self) -> None:
        if self.state != "ok":
            raise Stop(self.state)

    def _stopped(self, reason: str) -> None:
        if reason == "cancelled":
            self.queue.settle_cancelled(self.job_id, self.artifact_id, self.token)
            self.drop_checkpoint(self.artifact_id)  # a cancelled file is not resumed
        elif reason == "stopping":
            self.queue.release(self.job_id, self.artifact_id, self.token)
        else:
            log.warning(
                "file abandoned: lease lost",
                extra={
                    "job_id": self.job_id,
                    "artifact_id": self.artifact_id,
                    "lease_token": self.token,
                },
            )

    def run_artifact(self, art: Artifact) -> None:
        specs = [StageSpec(s.name, s.unit, s.run, s.total) for s in self.pipeline.stages]
        # Written with the first stage boundary, one transaction fewer per file.
        inp = self._input(art)
        if isinstance(inp, JobError):
            self._finish(art, error=inp)
            return
        art = resumed_artifact(art, inp.resume)
        host = self.worker.acquire_host()
        relay = _Relay(self, art, specs, inp.resume)
        clean = False
        try:
            host.submit(specs, inp, CHILD_REPORT_INTERVAL)
            self._pump(host, relay)
            clean = relay.outcome == "done" or relay.reusable
        finally:
            self.worker.release_host(host, reuse=clean)
            self.worker.storage.discard_local(inp.file_path)  # the S3 cache copy
        self.progress_calls += relay.calls
        if relay.outcome == "done":
            results = [
                ResultFile(p.name, p, mimetypes.guess_type(p.name)[0] or "application/octet-stream")
                for p in sorted(inp.results_dir.iterdir())
                if p.is_file()
            ]
            ending = self.file_ending(inp)
            self._finish(relay.art, results=results, ending=ending)
            self.drop_checkpoint(art.artifact_id)
        else:
            assert relay.error is not None
            self._finish(relay.art, error=relay.error)

    # --- endings: "No speech found in a.wav" instead of "Transcription complete!" ---------
    def file_ending(self, inp: ArtifactInput) -> str | None:
        """What the finished file says of itself, if its pipeline has a word for it."""
        if self.pipeline.ending is None:
            return None
        try:
            return self.pipeline.ending(inp)
        except Exception:  # a plugin's ending must never fail a finished file
            log.exception("ending failed", extra={"job_id": self.job_id})
            return None

    def _pump(self, host: StageHost, relay: _Relay) -> None:
        while True:
            if self.state != "ok":
                host.abort.set()  # a polite stage returns within the grace; then it goes
                deadline = time.monotonic() + ABORT_GRACE
                ended = False
                while not ended and host.proc.is_alive() and time.monotonic() < deadline:
                    try:
                        if host.results.poll(0.05):
                            ended = host.results.recv()[0] in _ENDS
                    except (EOFError, OSError):
                        break
                raise Stop(self.state)
            try:
                ready = host.results.poll(0.1)
                msg = host.results.recv() if ready else None
            except (EOFError, OSError):
                host.proc.join(2)
                relay.crashed(host.proc.exitcode)
                return
            if msg is not None and relay.handle(msg):
                return
            relay.flush_if_due()

    def _finish(
        self,
        art: Artifact,
        *,
        error: JobError | None = None,
        results: list[ResultFile] | None = None,
        ending: str | None = None,
    ) -> None:
        """The final write of the attempt, retried on transient database errors."""
        if error is not None:
            log.warning(
                "artifact failed",
                extra={
                    "job_id": self.job_id,
                    "artifact_id": art.artifact_id,
                    "error": error.code,
                    "retryable": error.retryable,
                },
            )
        for i in range(5):
            try:
                self.queue.finish_artifact(
                    self.job_id, self.token, art, error=error, results=results, ending=ending
                )
                return
            except LeaseLost:
                raise
            except Exception:
                log.exception("final write failed", extra={"job_id": self.job_id})
                time.sleep(min(2.0, 0.2 * 2**i))
        raise Stop("lost")

    def _write(self, art: Artifact, *, message: str | None = None, note: str | None = None) -> None:
        """A progress write; a transient database error is retried for a stage boundary and
        skipped for progress (the next report carries the same information)."""
        attempts = 5 if note else 1
        for i in range(attempts):
            try:
                self.queue.write_artifact(self.job_id, self.token, art, message=message, note=note)
                return
            except LeaseLost:
                raise
            except Exception:
                log.exception("progress write failed", extra={"job_id": self.job_id})
                if i + 1 < attempts:
                    time.sleep(min(2.0, 0.2 * 2**i))

    # --- checkpoints: a stage's state kept in storage, so a new attempt resumes ------------
    def save_checkpoint(self, art: Artifact, stage: str, state: dict[str, Any]) -> None:
        """Keep the stage's state with the artifact's stage units as they are now."""
        doc = {
            "stage": stage,
            "stage_units": art.stage_units,
            "processing_stages": art.processing_stages,
            "state": state,
        }
        try:
            data = json.dumps(doc, separators=(",", ":")).encode()
            self.worker.storage.put_bytes(checkpoint_key(art.artifact_id), data)
        except (OSError, TypeError, ValueError):  # a lost checkpoint costs only time
            log.exception("checkpoint not kept", extra={"artifact_id": art.artifact_id})

    def load_checkpoint(self, artifact_id: str) -> dict[str, Any] | None:
        try:
            data = self.worker.storage.read_bytes(checkpoint_key(artifact_id))
            doc = json.loads(data) if data else None
        except (OSError, ValueError):
            log.exception("checkpoint unreadable", extra={"artifact_id": artifact_id})
            return None
        return doc if isinstance(doc, dict) and doc.get("stage") else None

    def drop_checkpoint(self, artifact_id: str) -> None:
        try:
            self.worker.storage.delete(checkpoint_key(artifact_id))
        except OSError:
            log.exception("checkpoint not removed", extra={"artifact_id": artifact_id})

    def _input(self, art: Artifact) -> ArtifactInput | JobError:
        f = self.claim.file
        path = None
        if f is not None and f.get("stored_path"):
            path = self.worker.storage.local_path(f["stored_path"])
        if f is None or path is None or not path.is_file():
            return JobError(
                "file_missing",
                ErrorCategory.INPUT,
                False,
                f"The stored file of {art.filename} is missing.",
                "Upload the file again.",
            )
        base = self.work_root
        work, results = base / "work", base / "results"
        shutil.rmtree(base, ignore_errors=True)
        work.mkdir(parents=True)
        results.mkdir(parents=True)
        s = self.worker.settings
        return ArtifactInput(
            artifact_id=art.artifact_id,
            file_path=path,
            original_name=art.filename,
            file_type=art.file_type,
            mime=f.get("mime") or "application/octet-stream",
            size=int(f.get("size") or 0),
            sha256=f.get("sha256") or "",
            media={
                "duration_seconds": f.get("duration_seconds"),
                "page_count": f.get("page_count"),
                "row_count": f.get("row_count"),
            },
            work_dir=work,
            results_dir=results,
            options=stage_options(s),
            resume=self.load_checkpoint(art.artifact_id),
        )


def resumed_artifact(art: Artifact, resume: dict[str, Any] | None) -> Artifact:
    """The artifact as its checkpoint left it: the stages before it done, its stage part way."""
    if not resume:
        return art
    return art.evolve(
        current_stage=resume["stage"],
        stage_units=resume.get("stage_units") or {},
        processing_stages=resume.get("processing_stages") or {},
    )


class _Relay:
    """Turns the child's messages into artifact states and decides when to write them."""

    def __init__(
        self,
        runner: FileRunner,
        art: Artifact,
        specs: list[StageSpec],
        resume: dict[str, Any] | None = None,
    ) -> None:
        self.runner = runner
        self.art = art
        self.specs = specs
        self.names = [s.name for s in specs]
        self.outcome: str | None = None
        self.reusable = False
        self.error: JobError | None = None
        self.message: str | None = None
        self.dirty = False
        self.last_write = time.monotonic()  # the claim has just written the file
        self.calls = 0
        self._calls_in_stage = 0
        self.stage = 0
        # Resuming: the stages before the checkpoint's run again (they rebuild work_dir) but
        # their units stay as they were; the checkpoint's stage starts where it stopped.
        self.resume_stage = (resume or {}).get("stage")
        self.kept = {
            n
            for n, u in (resume or {}).get("stage_units", {}).items()
            if u.get("finished") and n != self.resume_stage
        }
        self.shown = False

    def _units(self, i: int, **changes: Any) -> None:
        name = self.names[i]
        units = dict(self.art.stage_units)
        cur = dict(units.get(name) or {"unit": self.specs[i].unit, "done": 0.0, "total": None})
        # When things happened, for the time estimate: the stage's start, its latest report,
        # its first report (start-up cost) and the report that passed half (its pace).
        now = iso(self.runner.queue.ctx.clock())
        if "total" in changes and "done" in changes and changes["done"] == 0.0:
            cur.update(started_at=now, first_at=None, first_done=None, half_at=None)
        if "done" in changes and changes["done"]:
            cur["progress_at"] = now
            if not cur.get("first_at"):
                # With the units that first report covered: the start-up is what the first
                # report took beyond their share of the stage's pace.
                cur.update(first_at=now, first_done=changes["done"])
            total = changes.get("total", cur.get("total"))
            if total and changes["done"] >= total / 2 and not cur.get("half_at"):
                cur["half_at"] = now
        cur.update(changes)
        units[name] = cur
        self.art = self.art.evolve(
            stage_units=units,
            current_stage=name,
            progress=rules.artifact_progress(self.names, units),
        )

    def handle(self, msg: tuple[Any, ...]) -> bool:
        """Apply one message; True when the child has finished (well or badly)."""
        kind = msg[0]
        if kind in ("stage", "progress", "total", "stage_done") and self.names[msg[1]] in self.kept:
            return self._rerun(msg)
        if kind == "stage" and self.names[msg[1]] == self.resume_stage:
            self._resume_stage(msg[1], msg[2])
        elif kind == "checkpoint":
            _, i, state = msg
            self.runner.save_checkpoint(self.art, self.names[i], state)
        elif kind == "stage":
            _, i, total = msg
            self.stage = i
            self._units(i, total=total, done=0.0)
            # Coalesced like progress: a stage that ends within the write interval is
            # written with what follows (a small file's stages all go in its final write).
            self.dirty = True
        elif kind == "progress":
            _, i, done, message, calls = msg
            self._units(i, done=done)
            self.calls += calls - self._calls_in_stage
            self._calls_in_stage = calls
            if message:
                self.message = message
            self.dirty = True
        elif kind == "total":
            _, i, total = msg
            self._units(i, total=total)
            self.dirty = True
        elif kind == "stage_done":
            _, i, seconds, done, calls = msg
            self.calls += calls - self._calls_in_stage
            self._calls_in_stage = 0
            self._units(i, done=done, finished=True)
            stages = dict(self.art.processing_stages)
            stages[self.names[i]] = round(seconds, 3)
            self.art = self.art.evolve(processing_stages=stages)
            self.dirty = True
        elif kind == "error":
            _, i, err = msg
            self.error = JobError.from_dict(err)
            self.outcome = "failed"
            self.reusable = True  # a StageError is the stage's own, orderly refusal
            return True
        elif kind == "exception":
            _, i, type_name, text = msg
            self.error = rules.unexpected_stage_error(self.names[i], type_name, text)
            self.outcome = "failed"
            return True
        elif kind == "done":
            self.outcome = "done"
            return True
        return False

    def _rerun(self, msg: tuple[Any, ...]) -> bool:
        """A stage done before the checkpoint runs again: count its calls, keep its units."""
        kind, i = msg[0], msg[1]
        self.stage = i
        if kind == "stage" and not self.shown:
            self.write()  # the artifact is processing again, with its kept progress
            self.shown = True
        if kind in ("progress", "stage_done"):
            self.calls += msg[-1] - self._calls_in_stage
            self._calls_in_stage = msg[-1] if kind == "progress" else 0
        return False

    def _resume_stage(self, i: int, total: float) -> None:
        """The checkpoint's stage starts again: from the units its checkpoint covers."""
        self.stage = i
        name = self.names[i]
        done = float((self.art.stage_units.get(name) or {}).get("done") or 0.0)
        now = iso(self.runner.queue.ctx.clock())
        # Its pace is learned from the units done in this attempt only (resumed_from).
        self._units(
            i,
            total=total,
            done=done,
            resumed_from=done,
            started_at=now,
            first_at=None,
            first_done=None,
            half_at=None,
            finished=False,
        )
        self.resume_stage = None  # only once
        self.runner._write(
            self.art,
            message=self.message,
            note=f"{self.art.filename}: {resume_note(self.specs[i].unit, done, total)}",
        )
        self.dirty = False
        self.last_write = time.monotonic()

    def crashed(self, exitcode: int | None) -> None:
        if self.outcome is None:
            self.outcome = "crashed"
            stage = self.names[self.stage] if self.names else "processing"
            self.error = rules.crashed_stage_error(stage, exitcode)

    def flush_if_due(self) -> None:
        if self.dirty and time.monotonic() - self.last_write >= self.runner.interval:
            self.write()

    def write(self) -> None:
        self.runner._write(self.art, message=self.message)
        self.dirty = False
        self.last_write = time.monotonic()

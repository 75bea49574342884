"""The child process that runs one artifact through its pipeline's stages.

It talks to its worker through one pipe, in small tuples:

    ("stage", i, total)                       stage i starts; its units, as known now
    ("progress", i, done, message, calls)     at most every ``interval`` seconds
    ("total", i, total)                       the stage corrected its total
    ("checkpoint", i, state)                  the stage's state to keep durably (a dict)
    ("stage_done", i, seconds, done, calls)
    ("error", i, error_dict)                  a StageError: the artifact fails with it
    ("exception", i, type_name, text)         anything else stage code raised
    ("done",)

A crash (a segfaulting decoder) ends the process without "done": the worker sees the pipe
close and fails the artifact with the exit signal. If the worker itself dies the child
notices its parent is gone and exits, so no orphan keeps burning CPU.

A child is a *stage host*: it runs one artifact at a time and, once the artifact ended
cleanly (done, or a StageError), is reused for the next, which spares the start-up of a
process per file. A host that crashed, was aborted or raised something unexpected is never
reused, and each is replaced after ``MAX_TASKS`` artifacts, or when it grew past
``stage_host_recycle_mb``. Each runs under an address-space ceiling (``stage_memory_mb``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stagecoach.domain.errors import StageError
from stagecoach.pipelines.base import ArtifactInput


@dataclass(frozen=True)
class StageSpec:
    """What the child needs of a Stage: module-level functions pickle by name."""

    name: str
    unit: str
    run: Callable[..., None]
    total: Callable[[ArtifactInput], float]


class PipeReporter:
    """The Reporter the stage code sees. Cheap per call: it only sends when due."""

    def __init__(
        self,
        conn: Any,
        abort: Any,
        index: int,
        interval: float,
        resume: dict[str, Any] | None = None,
    ) -> None:
        self.conn = conn
        self.resume = resume
        self.abort = abort
        self.index = index
        self.interval = interval
        self.done = 0.0
        self.message: str | None = None
        self.calls = 0
        self._last_sent = 0.0
        self._unsent = False

    def progress(self, units_done: float, message: str | None = None) -> None:
        self.calls += 1
        if units_done > self.done:
            self.done = float(units_done)
        if message is not None:
            self.message = message
        self._unsent = True
        now = time.monotonic()
        if now - self._last_sent >= self.interval:
            self.flush(now)

    def set_total(self, units_total: float) -> None:
        self.conn.send(("total", self.index, float(units_total)))

    def should_abort(self) -> bool:
        return bool(self.abort.is_set())

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.flush()  # the progress the state covers reaches the worker first
        self.conn.send(("checkpoint", self.index, state))

    def resumed_state(self) -> dict[str, Any] | None:
        return self.resume

    def flush(self, now: float | None = None) -> None:
        if self._unsent:
            self.conn.send(("progress", self.index, self.done, self.message, self.calls))
            self._unsent = False
            self._last_sent = now if now is not None else time.monotonic()


def _exit_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


MAX_TASKS = 200


def host_main(tasks: Any, conn: Any, abort: Any, memory_mb: int = 0, niceness: int = 0) -> None:
    """Process entry point (module-level so forkserver/spawn can import it): run the
    artifacts the worker sends, one at a time, until it sends None or goes away.

    ``memory_mb``: the address-space ceiling (a hostile file's stage gets MemoryError).
    ``niceness``: how much lower this process's CPU priority is than the worker's, so that
    a heavy stage yields the CPU to the status answers and bookkeeping beside it.
    SIGTERM and SIGINT are ignored: systemd and ``docker stop`` signal the server's whole
    process group, and the worker, not its stage host, decides what a stop means (it hands
    the file back to the queue, then ends this process)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if niceness > 0:
        os.nice(niceness)
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        stages, artifact, interval = task
        if not run_artifact(stages, artifact, conn, abort, interval):
            return


def stage_resume(artifact: ArtifactInput, spec: StageSpec) -> dict[str, Any] | None:
    """The checkpoint the artifact resumes from, when it was taken in this stage."""
    resume = artifact.resume or {}
    return resume.get("state") if resume.get("stage") == spec.name else None


def run_artifact(
    stages: list[StageSpec], artifact: ArtifactInput, conn: Any, abort: Any, interval: float
) -> bool:
    """Run every stage of one artifact; False when this process should not be reused."""
    try:
        for i, spec in enumerate(stages):
            if abort.is_set():
                return False
            started = time.monotonic()
            try:
                total = float(spec.total(artifact))
                conn.send(("stage", i, total))
                reporter = PipeReporter(conn, abort, i, interval, stage_resume(artifact, spec))
                spec.run(artifact, reporter)
                reporter.flush()
            except StageError as exc:
                conn.send(("error", i, exc.error.to_dict()))
                return True
            except (BrokenPipeError, EOFError):
                return False
            except Exception as exc:  # stage code's own bug or a transient failure
                conn.send(("exception", i, type(exc).__name__, str(exc)[:800]))
                return False
            conn.send(("stage_done", i, time.monotonic() - started, reporter.done, reporter.calls))
        conn.send(("done",))
        return True
    except (BrokenPipeError, EOFError, OSError):
        return False  # the worker is gone or gave up on us


def resident_mb(pid: int | None) -> float:
    """A process's resident memory in MiB (Linux /proc; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class StageHost:
    """The worker's handle on one stage host process."""

    def __init__(self, mp: Any, memory_mb: int = 0, recycle_mb: int = 0, niceness: int = 0) -> None:
        self.results, writer = mp.Pipe(duplex=False)
        tasks_reader, self.tasks = mp.Pipe(duplex=False)
        self.abort = mp.Event()
        self.recycle_mb = recycle_mb
        self.proc = mp.Process(
            target=host_main,
            args=(tasks_reader, writer, self.abort, memory_mb, niceness),
            name="stagecoach-stage-host",
        )
        self.proc.start()
        writer.close()
        tasks_reader.close()
        self.tasks_run = 0

    def submit(self, stages: list[StageSpec], artifact: ArtifactInput, interval: float) -> None:
        self.abort.clear()
        self.tasks_run += 1
        self.tasks.send((stages, artifact, interval))

    @property
    def reusable(self) -> bool:
        # A host that grew big on one job would keep that memory while idle: replace it.
        big = self.recycle_mb > 0 and resident_mb(self.proc.pid) > self.recycle_mb
        return self.proc.is_alive() and self.tasks_run < MAX_TASKS and not big

    def close(self, grace: float = 0.0) -> None:
        """Stop the process: politely (None) if ``grace``, else at once."""
        with contextlib.suppress(OSError, ValueError):
            if grace and self.proc.is_alive():
                self.tasks.send(None)
                self.proc.join(grace)
            if self.proc.is_alive():
                self.proc.kill()  # it ignores SIGTERM (see host_main)
            self.proc.join(5)
        for c in (self.tasks, self.results):
            with contextlib.suppress(OSError):
                c.close()
        with contextlib.suppress(ValueError):
            self.proc.close()

"""The child process that runs one artifact through its pipeline's stages.

It talks to its worker through one pipe, in small tuples:

    ("stage", i, total)                       stage i starts; its units, as known now
    ("progress", i, done, message, calls)     at most every ``interval`` seconds
    ("total", i, total)                       the stage corrected its total
    ("stage_done", i, seconds, done, calls)
    ("error", i, error_dict)                  a StageError: the artifact fails with it
    ("exception", i, type_name, text)         anything else stage code raised
    ("done",)

A crash (a segfaulting decoder) ends the process without "done": the worker sees the pipe
close and fails the artifact with the exit signal. If the worker itself dies the child
notices its parent is gone and exits, so no orphan keeps burning CPU.
"""

from __future__ import annotations

import contextlib
import os
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

    def __init__(self, conn: Any, abort: Any, index: int, interval: float) -> None:
        self.conn = conn
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


def run_artifact(
    stages: list[StageSpec], artifact: ArtifactInput, conn: Any, abort: Any, interval: float
) -> None:
    """Process entry point (module-level so forkserver/spawn can import it)."""
    _exit_with_parent()
    try:
        for i, spec in enumerate(stages):
            if abort.is_set():
                return
            started = time.monotonic()
            try:
                total = float(spec.total(artifact))
                conn.send(("stage", i, total))
                reporter = PipeReporter(conn, abort, i, interval)
                spec.run(artifact, reporter)
                reporter.flush()
            except StageError as exc:
                conn.send(("error", i, exc.error.to_dict()))
                return
            except (BrokenPipeError, EOFError):
                return
            except Exception as exc:  # stage code's own bug or a transient failure
                conn.send(("exception", i, type(exc).__name__, str(exc)[:800]))
                return
            conn.send(("stage_done", i, time.monotonic() - started, reporter.done, reporter.calls))
        conn.send(("done",))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the worker is gone or gave up on us
    finally:
        with contextlib.suppress(OSError):
            conn.close()

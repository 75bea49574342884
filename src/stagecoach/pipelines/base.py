"""What a pipeline is, and the one small interface stage code reports through.

A pipeline is an ordered list of stages. Each stage has a name, a unit of work (audio
seconds, pages, rows, bytes), a way to know its total before it starts, and a function that
does the work. Stage functions run in a child process of the worker: they must be
module-level (importable by name) and know nothing of HTTP or SQL. They read the artifact's
file, write intermediate files into ``work_dir`` and result files into ``results_dir``,
and report progress through the reporter. Failures are raised as ``StageError``.

A long stage can checkpoint: ``reporter.checkpoint(state)`` stores a small JSON-able dict
durably (outside ``work_dir``, which does not survive the worker); when the file is claimed
again after a lost worker, ``reporter.resumed_state()`` gives the last one back, and the stage
skips the work it covers. Its first progress report after a resume counts the units that
state already covers, so the bar carries on from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    """How stage code says how far it is. Cheap to call often: the worker coalesces."""

    def progress(self, units_done: float, message: str | None = None) -> None:
        """``units_done`` counts this stage's units since the stage began (monotonic)."""

    def set_total(self, units_total: float) -> None:
        """Correct the stage's total when the real amount differs from the estimate."""

    def should_abort(self) -> bool:
        """True once the job was cancelled; stage code should return soon after."""

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Keep ``state`` (JSON-able) durably: the work it covers is not redone after a crash.

        Report the progress the state covers before checkpointing it."""

    def resumed_state(self) -> dict[str, Any] | None:
        """This stage's last checkpoint from an earlier attempt at the file, or None."""


@dataclass(frozen=True)
class ArtifactInput:
    """What a stage function gets to work on: one file of a job."""

    artifact_id: str
    file_path: Path  # local path of the stored upload (read only)
    original_name: str  # display text only, never a path
    file_type: str  # audio, video, document, dataset, other
    mime: str
    size: int
    sha256: str
    media: dict[str, Any]  # duration_seconds, page_count, row_count (may be None)
    work_dir: Path  # scratch space shared by this artifact's stages
    results_dir: Path  # every file left here becomes a downloadable result
    options: dict[str, Any] = field(default_factory=dict)  # engine, whisper_model_dir, ...
    # The last checkpoint of an earlier attempt: {"stage": name, "state": {...}}, or None.
    resume: dict[str, Any] | None = None


StageFn = Callable[[ArtifactInput, Reporter], None]
TotalFn = Callable[[ArtifactInput], float]


@dataclass(frozen=True)
class Stage:
    name: str  # shown to users: "Transcribing"
    unit: str  # "audio_seconds", "pages", "rows", "bytes"
    run: StageFn
    total: TotalFn  # units this stage will do, known before it starts


@dataclass(frozen=True)
class Pipeline:
    name: str  # "audio", "document", "dataset", "checksum", or a plugin's name
    file_types: tuple[str, ...]  # file types it handles by default
    stages: tuple[Stage, ...]
    complete_message: str = "Processing complete!"
    engine: Callable[[dict[str, Any]], str] | None = None  # names the engine, for ETA history
    # What a file's completion says when not ``complete_message`` ("No speech found in
    # a.wav"): called in the worker after the last stage, with work_dir and results_dir kept.
    ending: Callable[[ArtifactInput], str | None] | None = None
    accepts: tuple[str, ...] = ()  # file types it can take when asked for; () = file_types
    # Modules its stages import on first use (pypdf, matplotlib): the worker's forkserver
    # imports them once, so no stage process's first file waits for them (up to a second)
    # and the pace learned from that file is the pace of every other. Missing ones are skipped.
    preload: tuple[str, ...] = ()

    def takes(self, file_type: str) -> bool:
        """Whether the pipeline can process a file of this type (when asked for by name)."""
        return file_type in (self.accepts or self.file_types)

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

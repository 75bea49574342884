"""Run a pipeline in this process, outside the worker: for tests, benchmarks and one-off use.

The worker does the same in a child process, with a reporter that writes to the database.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage

FILE_TYPES_BY_EXTENSION = {
    "audio": "wav mp3 m4a aac ogg oga opus flac wma aiff",
    "video": "mp4 mov mkv webm avi m4v",
    "document": "pdf docx txt md markdown html htm",
    "dataset": "csv tsv xlsx json jsonl ndjson",
}


def file_type_for_name(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for file_type, exts in FILE_TYPES_BY_EXTENSION.items():
        if ext in exts.split():
            return file_type
    return "other"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_for_file(
    path: Path,
    work_dir: Path,
    results_dir: Path,
    *,
    file_type: str | None = None,
    options: dict[str, Any] | None = None,
    media: dict[str, Any] | None = None,
) -> ArtifactInput:
    """An ``ArtifactInput`` for a local file, with its size and sha256 computed here."""
    work_dir.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    return ArtifactInput(
        artifact_id=str(uuid.uuid4()),
        file_path=path,
        original_name=path.name,
        file_type=file_type or file_type_for_name(path.name),
        mime=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        size=path.stat().st_size,
        sha256=sha256_of(path),
        media=dict(media or {}),
        work_dir=work_dir,
        results_dir=results_dir,
        options=dict(options or {}),
    )


def run_pipeline(
    pipeline: Pipeline,
    artifact: ArtifactInput,
    reporter_for: Callable[[Stage, float], Reporter],
) -> dict[str, float]:
    """Run every stage in order; returns seconds per stage (``processing_stages``)."""
    timings: dict[str, float] = {}
    for stage in pipeline.stages:
        reporter = reporter_for(stage, stage.total(artifact))
        started = time.perf_counter()
        stage.run(artifact, reporter)
        timings[stage.name] = round(time.perf_counter() - started, 3)
    return timings


class SilentReporter:
    """A reporter that only remembers the last figures and checkpoint (benchmarks, command
    line); ``resume`` is the state ``resumed_state`` gives back."""

    def __init__(self, total: float = 0.0, resume: dict[str, Any] | None = None) -> None:
        self.total = total
        self.done = 0.0
        self.resume = resume
        self.last_checkpoint: dict[str, Any] | None = None
        self.checkpoints = 0

    def progress(self, units_done: float, message: str | None = None) -> None:
        self.done = units_done

    def set_total(self, units_total: float) -> None:
        self.total = units_total

    def should_abort(self) -> bool:
        return False

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.last_checkpoint = state
        self.checkpoints += 1

    def resumed_state(self) -> dict[str, Any] | None:
        return self.resume

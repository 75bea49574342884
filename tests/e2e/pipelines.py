"""Small pipelines for the page tests: a fake transcriber that writes a transcript in the
audio pipeline's result names, and one that fails for good on files named bad*. Stage
functions are module-level: the worker's child processes import them by name."""

from __future__ import annotations

from pathlib import Path

from stagecoach.domain.errors import StageError
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage

PARAGRAPHS = [
    f"Paragraph {i}: the coach asked about the week, and the client answered at length. " * 6
    for i in range(1, 13)
]
TRANSCRIPT = "\n\n".join(PARAGRAPHS) + "\n"


def one(a: ArtifactInput) -> float:
    return 1.0


def transcribe(a: ArtifactInput, r: Reporter) -> None:
    r.progress(0.5)
    (a.results_dir / "transcript.txt").write_text(TRANSCRIPT)
    (a.results_dir / "transcript.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nHello\n")
    (a.results_dir / "transcript.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n")
    r.progress(1)


def picky(a: ArtifactInput, r: Reporter) -> None:
    if a.original_name.startswith("bad"):
        raise StageError("corrupt_file", "The file is corrupt.", hint="Upload a good copy.")
    (a.results_dir / f"{Path(a.original_name).stem}.summary.txt").write_text("ok\n")
    r.progress(1)


def _pipeline(name: str, stage: Stage) -> Pipeline:
    return Pipeline(name=name, file_types=("other",), stages=(stage,))


PIPELINES: dict[str, Pipeline] = {
    "fake-audio": _pipeline("fake-audio", Stage("Transcribing", "items", transcribe, one)),
    "picky": _pipeline("picky", Stage("Working", "items", picky, one)),
}

"""Small pipelines for the worker's tests. Stage functions are module-level: the worker's
child processes import them by name."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.audio import AUDIO
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage

CHUNK = 1024


def file_size(a: ArtifactInput) -> float:
    return float(a.size or a.file_path.stat().st_size)


def one(a: ArtifactInput) -> float:
    return 1.0


def read_slowly(a: ArtifactInput, r: Reporter) -> None:
    """Read the file in chunks with short sleeps (``delay`` option: seconds per chunk)."""
    delay = float(os.environ.get("STAGECOACH_TEST_CHUNK_DELAY", "0.01"))
    h = hashlib.sha256()
    done = 0
    with a.file_path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if r.should_abort():
                return
            h.update(chunk)
            done += len(chunk)
            r.progress(done, f"read {done} bytes")
            time.sleep(delay)
    if h.hexdigest() != a.sha256:
        raise StageError(
            "checksum_mismatch", "The file does not match its checksum.", hint="Upload it again."
        )
    (a.work_dir / "sha256").write_text(h.hexdigest())


def write_result(a: ArtifactInput, r: Reporter) -> None:
    digest = (a.work_dir / "sha256").read_text()
    (a.results_dir / f"{Path(a.original_name).stem}.sha256").write_text(digest + "\n")
    r.progress(1)


def trivial(a: ArtifactInput, r: Reporter) -> None:
    r.progress(1)
    (a.results_dir / f"{Path(a.original_name).stem}.txt").write_text("ok\n")


def permanent(a: ArtifactInput, r: Reporter) -> None:
    r.progress(0.5)
    raise StageError("corrupt_file", "The file is corrupt.", hint="Upload a good copy.")


def retryable(a: ArtifactInput, r: Reporter) -> None:
    raise StageError(
        "engine_busy",
        "The engine was busy.",
        hint="It is retried.",
        retryable=True,
        category=ErrorCategory.DEPENDENCY,
    )


def flaky_once(a: ArtifactInput, r: Reporter) -> None:
    """Fails retryably the first time for a given artifact, then succeeds."""
    marker = Path(os.environ["STAGECOACH_TEST_MARKERS"]) / a.artifact_id
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("x")
        raise StageError(
            "engine_busy", "The engine was busy.", retryable=True, category=ErrorCategory.DEPENDENCY
        )
    trivial(a, r)


def segfault(a: ArtifactInput, r: Reporter) -> None:
    r.progress(0.1)
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(a: ArtifactInput, r: Reporter) -> None:
    """Reports once, then hangs without ever looking at should_abort()."""
    r.progress(0.1, "started")
    while True:
        time.sleep(0.05)


def polite_hang(a: ArtifactInput, r: Reporter) -> None:
    r.progress(0.1)
    while not r.should_abort():
        time.sleep(0.02)


def many_reports(a: ArtifactInput, r: Reporter) -> None:
    n = int(os.environ.get("STAGECOACH_TEST_REPORTS", "100000"))
    for i in range(n):
        r.progress(i + 1)


def picky(a: ArtifactInput, r: Reporter) -> None:
    """Fails for good on files named bad*, works on the others."""
    if a.original_name.startswith("bad"):
        permanent(a, r)
    trivial(a, r)


ANY_TYPE = ("audio", "video", "document", "dataset", "other")


def pipeline(name: str, *stages: Stage) -> Pipeline:
    # Test stages read any file's bytes: asked for by name at upload, they take every kind.
    return Pipeline(name=name, file_types=("other",), stages=tuple(stages), accepts=ANY_TYPE)


PIPELINES: dict[str, Pipeline] = {
    "slow": pipeline(
        "slow",
        Stage("Reading", "bytes", read_slowly, file_size),
        Stage("Writing", "files", write_result, one),
    ),
    "trivial": pipeline("trivial", Stage("Working", "items", trivial, one)),
    "permanent": pipeline("permanent", Stage("Working", "items", permanent, one)),
    "retryable": pipeline("retryable", Stage("Working", "items", retryable, one)),
    "flaky": pipeline("flaky", Stage("Working", "items", flaky_once, one)),
    "segfault": pipeline("segfault", Stage("Decoding", "items", segfault, one)),
    "hang": pipeline("hang", Stage("Working", "items", hang, one)),
    "polite": pipeline("polite", Stage("Working", "items", polite_hang, one)),
    "picky": pipeline("picky", Stage("Working", "items", picky, one)),
    "reports": pipeline("reports", Stage("Reporting", "reports", many_reports, one)),
}
# With the real audio pipeline, for speech killed and resumed (test_speech.py).
SPEECH_PIPELINES: dict[str, Pipeline] = {**PIPELINES, "audio": AUDIO}

"""The ``checksum`` pipeline: read every byte, check size and sha256 (files of type "other")."""

from __future__ import annotations

import hashlib
import json

from stagecoach.domain.errors import StageError
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage
from stagecoach.pipelines.progress import StageProgress

CHUNK_BYTES = 1 << 20


def verify(art: ArtifactInput, reporter: Reporter) -> None:
    progress = StageProgress(reporter, art.size, "Verifying file...")
    digest = hashlib.sha256()
    try:
        with open(art.file_path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                digest.update(chunk)
                progress.advance(len(chunk))
    except FileNotFoundError as exc:
        raise StageError(
            "file_missing",
            "The stored file is missing.",
            hint="Upload the file again.",
        ) from exc
    size, sha256 = int(progress.done), digest.hexdigest()
    if size != art.size or sha256 != art.sha256.lower():
        what = f"size {size} instead of {art.size} bytes" if size != art.size else "sha256 differs"
        raise StageError(
            "checksum_mismatch",
            f"The stored file does not match the upload ({what}).",
            hint="The file was damaged in storage or in transit; upload it again.",
            retryable=False,
        )
    result = {"size": size, "sha256": sha256, "verified": True}
    (art.results_dir / "checksum.json").write_text(json.dumps(result, indent=2) + "\n")
    progress.finish("File verified")


def total_bytes(art: ArtifactInput) -> float:
    return float(art.size)


CHECKSUM = Pipeline(
    name="checksum",
    file_types=("other",),
    stages=(Stage("Verifying", "bytes", verify, total_bytes),),
    complete_message="File verified!",
    any_file=True,
)

"""Driving a stage host by hand: one artifact through ``memory_stages.allocate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stagecoach.pipelines.base import ArtifactInput
from stagecoach.worker.child import StageHost, StageSpec
from tests.worker import memory_stages

SPEC = [StageSpec("Allocating", "items", memory_stages.allocate, memory_stages.one)]


def artifact(tmp_path: Path, **options: Any) -> ArtifactInput:
    """A one-byte file; ``options`` go to the stage (``mb``, ``keep``)."""
    f = tmp_path / "f.bin"
    f.write_bytes(b"x")
    return ArtifactInput(
        artifact_id="a1",
        file_path=f,
        original_name="f.bin",
        file_type="other",
        mime="application/octet-stream",
        size=1,
        sha256="",
        media={},
        work_dir=tmp_path,
        results_dir=tmp_path,
        options=options,
    )


def run_on(host: StageHost, art: ArtifactInput) -> tuple[Any, ...]:
    """Run ``art`` through SPEC on ``host``; the host's last message ("done", ...)."""
    host.submit(SPEC, art, 0.1)
    while True:
        assert host.results.poll(60), "the stage host went silent"
        msg = host.results.recv()
        if msg[0] in ("done", "error", "exception"):
            return tuple(msg)

"""Fixtures for stage code: a reporter that records what it is told, and artifact factories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stagecoach.pipelines.base import ArtifactInput, Pipeline, Stage
from stagecoach.pipelines.local import artifact_for_file, run_pipeline


class RecordingReporter:
    """The reporter boundary of stage code: remembers every call, answers ``should_abort``."""

    def __init__(self, stage: str = "", total: float = 0.0, abort_after: int | None = None):
        self.stage = stage
        self.totals = [total]
        self.progress_calls: list[tuple[float, str | None]] = []
        self.abort_after = abort_after
        self.total_at_call: list[float] = []

    def progress(self, units_done: float, message: str | None = None) -> None:
        self.progress_calls.append((units_done, message))
        self.total_at_call.append(self.totals[-1])

    def set_total(self, units_total: float) -> None:
        self.totals.append(units_total)

    def should_abort(self) -> bool:
        return self.abort_after is not None and len(self.progress_calls) >= self.abort_after

    @property
    def units(self) -> list[float]:
        return [u for u, _ in self.progress_calls]

    def assert_complete(self) -> None:
        """Progress was reported, never went backwards or past the total, and ended on it."""
        assert self.progress_calls, f"{self.stage}: no progress reported"
        assert self.units == sorted(self.units), f"{self.stage}: progress went backwards"
        over = [(u, t) for u, t in zip(self.units, self.total_at_call, strict=True) if u > t]
        assert not over, f"{self.stage}: progress beyond the total: {over}"
        assert self.units[-1] == pytest.approx(self.totals[-1]), (
            f"{self.stage}: ended at {self.units[-1]} of {self.totals[-1]}"
        )


class PipelineRun:
    def __init__(self, artifact: ArtifactInput) -> None:
        self.artifact = artifact
        self.reporters: dict[str, RecordingReporter] = {}
        self.timings: dict[str, float] = {}

    def reporter_for(self, stage: Stage, total: float) -> RecordingReporter:
        self.reporters[stage.name] = RecordingReporter(stage.name, total)
        return self.reporters[stage.name]

    def result(self, name: str) -> str:
        return (self.artifact.results_dir / name).read_text(encoding="utf-8")

    @property
    def result_names(self) -> list[str]:
        return sorted(p.name for p in self.artifact.results_dir.iterdir())


@pytest.fixture
def make_artifact(tmp_path: Path) -> Callable[..., ArtifactInput]:
    """``make_artifact(path, **overrides)``: an ArtifactInput with fresh work and results dirs."""
    counter = 0

    def make(path: Path, **kwargs: Any) -> ArtifactInput:
        nonlocal counter
        counter += 1
        base = tmp_path / f"artifact{counter}"
        return artifact_for_file(path, base / "work", base / "results", **kwargs)

    return make


@pytest.fixture
def run_stages(make_artifact: Callable[..., ArtifactInput]) -> Callable[..., PipelineRun]:
    """Run every stage of a pipeline in order on a file, recording each stage's reporter."""

    def run(pipeline: Pipeline, path: Path, **kwargs: Any) -> PipelineRun:
        pipeline_run = PipelineRun(make_artifact(path, **kwargs))
        pipeline_run.timings = run_pipeline(
            pipeline, pipeline_run.artifact, pipeline_run.reporter_for
        )
        return pipeline_run

    return run

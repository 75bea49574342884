"""How good are the time estimates? Real jobs, three estimators side by side.

Each job is a real pipeline run on a generated file (recordings of 1-5 minutes, PDFs of 5 to
500 pages, datasets of 1k to 1M rows; `BENCH_ETA_SCALE` scales the sizes). Every progress
report is recorded with its time. Then the run is replayed through the estimator exactly as
the status endpoint computes it (`domain.eta.estimate`, once a second, each shown estimate
smoothed from the one before), for stagecoach's learned estimator, the seed formula and a
plain rate, and each estimate is compared with the real finish:

    error = |predicted finish - real finish| / real duration

at 10, 25, 50, 75 and 90 % of the real duration. The learned estimator learns from each
finished job before the next starts, as the service does; the table counts the jobs that
ran after their pipeline had five finished jobs, and the range's coverage (how often the
real finish fell between eta_low and eta_high) over the same checks.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stagecoach.domain.eta import Shown, estimate
from stagecoach.domain.progress import ArtifactPlan, JobPlan, StagePlan
from stagecoach.domain.rates import RateKey, StageRate, lookup, update
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.local import artifact_for_file
from stagecoach.pipelines.registry import builtin_pipelines

CHECKPOINTS = (0.10, 0.25, 0.50, 0.75, 0.90)
ESTIMATORS = ("learned", "seed", "rate")
PRIOR_FACTOR = 4.0
WARM = 5  # finished jobs of a pipeline before its estimates count as "learned"
SCALE = float(os.environ.get("BENCH_ETA_SCALE", "0.5"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)

AUDIO_MINUTES = [1, 2, 1, 3, 1.5, 2, 4, 1, 2.5, 3, 5]
PDF_PAGES = [5, 20, 10, 50, 30, 100, 15, 200, 60, 500]
DATASET_ROWS = [1_000, 10_000, 5_000, 50_000, 2_000, 100_000, 20_000, 200_000, 30_000, 1_000_000]


@dataclass
class StageTrace:
    name: str
    unit: str
    total: float  # known before the stage started
    start: float = 0.0
    end: float = 0.0
    points: list[tuple[float, float]] = field(default_factory=list)  # (seconds, units done)

    def done_at(self, t: float) -> tuple[float, float | None]:
        done, at = 0.0, None
        for pt, units in self.points:
            if pt > t:
                break
            done, at = units, pt
        return done, at


class TraceReporter:
    """Records every report with its time: the reporter interface stage code talks to."""

    def __init__(self, trace: StageTrace, clock0: float) -> None:
        self.trace, self.clock0 = trace, clock0

    def progress(self, units_done: float, message: str | None = None) -> None:
        self.trace.points.append((time.perf_counter() - self.clock0, float(units_done)))

    def set_total(self, units_total: float) -> None:
        pass  # the estimate must live with the total known at the start, as the service does

    def should_abort(self) -> bool:
        return False


@dataclass
class JobTrace:
    pipeline: str
    engine: str
    label: str
    stages: list[StageTrace]

    @property
    def duration(self) -> float:
        return self.stages[-1].end

    def plan(self, t: float) -> JobPlan:
        plans = []
        for s in self.stages:
            started = s.start <= t
            finished = s.end <= t
            done, at = s.done_at(t)
            plans.append(
                StagePlan(
                    name=s.name,
                    unit=s.unit,
                    units_total=s.total,
                    units_done=s.total if finished else done,
                    finished=finished,
                    started_at=T0 + timedelta(seconds=s.start) if started else None,
                    progress_at=T0 + timedelta(seconds=at if at is not None else s.start)
                    if started
                    else None,
                    seconds=s.end - s.start if finished else None,
                )
            )
        return JobPlan((ArtifactPlan(self.pipeline, tuple(plans), self.engine),))


def run_job(pipeline: Pipeline, path: Path, work: Path, label: str) -> JobTrace:
    base = Path(tempfile.mkdtemp(dir=work))
    art = artifact_for_file(path, base / "work", base / "results")
    engine = pipeline.engine(art.options) if pipeline.engine else ""
    clock0 = time.perf_counter()
    traces = []
    for stage in pipeline.stages:
        tr = StageTrace(stage.name, stage.unit, float(stage.total(art)) or 1.0)
        tr.start = time.perf_counter() - clock0
        stage.run(art, TraceReporter(tr, clock0))
        tr.end = time.perf_counter() - clock0
        traces.append(tr)
    return JobTrace(pipeline.name, engine, label, traces)


def learn(rates: dict[RateKey, StageRate], job: JobTrace) -> None:
    for s in job.stages:
        key = RateKey(job.pipeline, s.name, job.engine)
        rate = rates.get(key) or lookup(
            rates, job.pipeline, s.name, job.engine, s.unit, PRIOR_FACTOR
        )
        seconds = max(s.end - s.start, 1e-6)
        first = s.points[0][0] - s.start if s.points else None
        half = next((pt - s.start for pt, u in s.points if u >= s.total / 2), None)
        rates[key] = update(rate, s.total, seconds, startup_seconds=first, half_seconds=half)


def replay(job: JobTrace, estimator: str, rates: dict[RateKey, StageRate]) -> dict[float, Any]:
    """The estimate shown at each checkpoint, polling once a second as a page would."""
    T = job.duration
    step = max(1.0, T / 300)
    shown: Shown | None = None
    out: dict[float, Any] = {}
    pending = list(CHECKPOINTS)
    t = 0.0
    while pending:
        now = T0 + timedelta(seconds=t)
        est = estimate(
            job.plan(t),
            now=now,
            rates=rates,
            estimator=estimator,  # type: ignore[arg-type]
            prior_factor=PRIOR_FACTOR,
            previous=shown,
        )
        shown = est.shown(now)
        while pending and t >= pending[0] * T:
            out[pending.pop(0)] = (t, est)
        t = min(t + step, pending[0] * T) if pending else t
    return out


def inputs(work: Path) -> list[tuple[str, Path, str]]:
    from tests.pipelines.datasets import sales_rows, write_delimited
    from tests.pipelines.documents import make_pdf

    from bench.pipelines_bench import recording

    jobs: list[tuple[str, Path, str]] = []
    for i, m in enumerate(AUDIO_MINUTES):
        m = max(0.25, m * SCALE)
        jobs.append(("audio", recording(work, f"rec{i}", m, speech_share=0.8), f"{m:g} min"))
    for i, p in enumerate(PDF_PAGES):
        p = max(2, int(p * SCALE))
        jobs.append(("document", make_pdf(work / f"doc{i}.pdf", p), f"{p} pages"))
    for i, r in enumerate(DATASET_ROWS):
        r = max(100, int(r * SCALE))
        path = write_delimited(work / f"data{i}.csv", sales_rows(r, seed=i))
        jobs.append(("dataset", path, f"{r} rows"))
    return jobs


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * (len(v) - 1))))]


def main() -> None:
    pipelines = builtin_pipelines()
    rates: dict[RateKey, StageRate] = {}
    finished: dict[str, int] = {}
    # errors[estimator][checkpoint] -> list of errors (warm jobs only)
    errors = {e: {c: [] for c in CHECKPOINTS} for e in ESTIMATORS}
    errors_all = {e: {c: [] for c in CHECKPOINTS} for e in ESTIMATORS}
    covered: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="sc-eta-") as tmp:
        work = Path(tmp)
        print("generating inputs...", flush=True)
        todo = inputs(work)
        random.Random(3).shuffle(todo)
        print(f"{'pipeline':<9} {'input':<13} {'seconds':>8}  learned error at 10/25/50/75/90 %")
        for name, path, label in todo:
            job = run_job(pipelines[name], path, work, label)
            warm = finished.get(name, 0) >= WARM
            row = []
            for est_name in ESTIMATORS:
                for c, (t, est) in replay(job, est_name, rates).items():
                    left = job.duration - t
                    if est.eta_seconds is None:
                        err = 1.0  # no estimate at all: as wrong as "done now"
                    else:
                        err = abs(est.eta_seconds - left) / job.duration
                    errors_all[est_name][c].append(err)
                    if warm:
                        errors[est_name][c].append(err)
                    if est_name == "learned":
                        row.append(err)
                        if warm and est.eta_low is not None and est.eta_high is not None:
                            covered.append(est.eta_low <= left <= est.eta_high)
            print(
                f"{name:<9} {label:<13} {job.duration:>8.1f}  "
                + " ".join(f"{e * 100:5.1f}%" for e in row)
                + ("" if warm else "   (learning)"),
                flush=True,
            )
            learn(rates, job)
            finished[name] = finished.get(name, 0) + 1

    def table(title: str, errs: dict[str, dict[float, list[float]]]) -> None:
        n = len(next(iter(errs.values()))[CHECKPOINTS[0]])
        print(f"\n{title} ({n} jobs): median / p90 absolute error, % of real duration")
        print(f"{'estimator':<10}" + "".join(f"{f'at {int(c * 100)} %':>16}" for c in CHECKPOINTS))
        for e in ESTIMATORS:
            cells = "".join(
                f"{f'{pct(errs[e][c], 50) * 100:.1f} / {pct(errs[e][c], 90) * 100:.1f}':>16}"
                for c in CHECKPOINTS
            )
            print(f"{e:<10}{cells}")

    table(f"after {WARM} finished jobs of the pipeline", errors)
    table("all jobs, including the first ones", errors_all)
    if covered:
        print(
            f"\nlearned range (eta_low..eta_high) held the real finish in "
            f"{100 * sum(covered) / len(covered):.0f} % of {len(covered)} checks (warm jobs)"
        )


if __name__ == "__main__":
    main()

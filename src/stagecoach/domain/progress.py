"""How far along an artifact and a job are, from their stages' units.

Progress of a stage is units done / units total. An artifact's progress weighs each stage
by what it is expected to cost in seconds (units x learned seconds-per-unit + start-up), so
a fast decoding stage does not count as much as a slow transcription. A job's progress
weighs its artifacts by their expected work. Progress is in percent, 0-100, as the status
contract has it; it reaches 100 only when every stage has finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stagecoach.domain.rates import RateBook, StageRate, lookup, update

UNFINISHED_CAP = 99.0  # "100 %" means done; a stage at its last unit is not done yet


@dataclass(frozen=True)
class StagePlan:
    """One stage of an artifact as the tracker knows it now.

    ``started_at`` is set once the stage began; ``progress_at`` is when ``units_done`` was
    last reported (defaults to now); ``seconds`` is how long a finished stage took.
    """

    name: str
    unit: str
    units_total: float
    units_done: float = 0.0
    finished: bool = False
    started_at: datetime | None = None
    progress_at: datetime | None = None
    seconds: float | None = None
    total_known: bool = True  # False: no media fact gives it; learned runs say what to expect

    @property
    def fraction(self) -> float:
        if self.finished:
            return 1.0
        if self.units_total <= 0:
            return 0.0
        return min(max(self.units_done / self.units_total, 0.0), 1.0)

    @property
    def running(self) -> bool:
        return self.started_at is not None and not self.finished


@dataclass(frozen=True)
class ArtifactPlan:
    """One file of a job: its pipeline, engine and stages in order.

    ``ended`` marks an artifact that failed or was cancelled: it has no work left, and the
    others go on without it.
    """

    pipeline: str
    stages: tuple[StagePlan, ...]
    engine: str = ""
    ended: bool = False

    @property
    def finished(self) -> bool:
        return self.ended or all(s.finished for s in self.stages)


@dataclass(frozen=True)
class JobPlan:
    """A job's artifacts. ``concurrent_artifacts`` > 1 when a worker runs them side by side."""

    artifacts: tuple[ArtifactPlan, ...]
    concurrent_artifacts: int = 1

    @property
    def finished(self) -> bool:
        return all(a.finished for a in self.artifacts)

    @property
    def started(self) -> bool:
        return any(s.started_at is not None or s.finished for a in self.artifacts for s in a.stages)


# Media facts that give a stage's total before it starts, by the stage's unit.
UNIT_FACT = {
    "audio_seconds": "duration_seconds",
    "pages": "page_count",
    "rows": "row_count",
    "bytes": "size",
}


def parse_time(value: Any) -> datetime | None:
    """A stored or serialised time (ISO text, with Z or an offset) as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def artifact_plan(
    pipeline: str,
    stages: Sequence[tuple[str, str]],
    stage_units: Mapping[str, Mapping[str, Any]],
    processing_stages: Mapping[str, float],
    facts: Mapping[str, Any],
    *,
    engine: str = "",
    completed: bool = False,
    ended: bool = False,
) -> ArtifactPlan:
    """An artifact's plan from what the worker stored of it (``stage_units``: per stage its
    unit, total, done, finished and times; ``processing_stages``: seconds of finished
    stages) and its file's media facts, which give a stage's total before it starts.

    ``stages``: the pipeline's (name, unit) in order. The status document carries the same
    fields, so a plan can be rebuilt from what a client saw.
    """
    plans = []
    for name, unit in stages:
        seen = stage_units.get(name) or {}
        total = seen.get("total")
        known = total is not None
        if total is None:
            total = float(facts.get(UNIT_FACT.get(unit, ""), 0) or 0)
            known = total > 0
        plans.append(
            StagePlan(
                name=name,
                unit=unit,
                units_total=float(total) if known else 1.0,
                units_done=float(seen.get("done") or 0.0),
                finished=bool(seen.get("finished")) or completed,
                started_at=parse_time(seen.get("started_at")),
                progress_at=parse_time(seen.get("progress_at")),
                seconds=processing_stages.get(name),
                total_known=known,
            )
        )
    return ArtifactPlan(pipeline=pipeline, stages=tuple(plans), engine=engine, ended=ended)


@dataclass(frozen=True)
class StageRun:
    """One finished run of a stage, as learning needs it (see ``rates.update``)."""

    stage: str
    unit: str
    units: float
    seconds: float
    startup_seconds: float | None = None  # until the first progress report
    half_seconds: float | None = None  # until half the units were reported done
    reference_units: float | None = None  # the total of the artifact's first stage


def finished_stage_runs(
    stage_units: Mapping[str, Mapping[str, Any]],
    processing_stages: Mapping[str, float],
    before: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[StageRun]:
    """The stages of an artifact that finished since ``before`` (its earlier stage_units)."""
    runs = []
    before = before or {}
    firsts = sorted(
        (str(u.get("started_at")), u.get("total"))
        for u in stage_units.values()
        if u.get("started_at")
    )
    reference = float(firsts[0][1]) if firsts and firsts[0][1] else None
    for name, units in stage_units.items():
        if not units.get("finished") or (before.get(name) or {}).get("finished"):
            continue
        seconds = processing_stages.get(name)
        total = units.get("total") or units.get("done")
        # A stage resumed from a checkpoint did only the rest of its units in this run.
        resumed = float(units.get("resumed_from") or 0.0)
        if seconds is None or not total or total - resumed <= 0:
            continue
        first_done = units.get("first_done")
        started = parse_time(units.get("started_at"))
        first, half = parse_time(units.get("first_at")), parse_time(units.get("half_at"))
        seconds = max(float(seconds), 1e-3)  # timings are kept to the millisecond
        runs.append(
            StageRun(
                stage=name,
                unit=str(units.get("unit") or ""),
                units=float(total) - resumed,
                seconds=seconds,
                startup_seconds=_startup(
                    (first - started).total_seconds() if first and started else None,
                    None if first_done is None else float(first_done) - resumed,
                    float(total) - resumed,
                    seconds,
                ),
                half_seconds=(half - started).total_seconds()
                if half and started and not resumed
                else None,
                reference_units=reference,
            )
        )
    return runs


def _startup(
    first_seconds: float | None, first_done: float | None, total: float, seconds: float
) -> float | None:
    """A stage's fixed start-up, from its first report: the time it took beyond the pace of
    the rest of the run for the units it covered. A stage that reports only at the end
    tells nothing of it (None). Without ``first_done`` (older records), the first report's
    time itself."""
    if first_seconds is None:
        return None
    if first_done is None:
        return first_seconds
    done = float(first_done)
    if done >= total or seconds <= first_seconds:
        return None
    pace = (seconds - first_seconds) / (total - done)
    return max(first_seconds - done * pace, 0.0)


# A job costs more than its stages: the worker starts the first stage after the claim, and
# writes results and the final status after the last. Each is learned per pipeline as a
# pseudo-stage of one unit, "job" (seconds per job), next to the real stages' rates.
JOB_START = "(start)"
JOB_FINISH = "(finish)"
JOB_UNIT = "job"


def job_overheads(
    started_at: datetime | None,
    finished_at: datetime | None,
    stage_units: Mapping[str, Mapping[str, Any]],
    processing_stages: Mapping[str, float],
) -> dict[str, float] | None:
    """Seconds a finished single-file job spent outside its stages, by pseudo-stage:
    from the claim to its first stage, and after the first stage began whatever the stages
    themselves did not take. None when the times needed are missing."""
    starts = [parse_time(u.get("started_at")) for u in stage_units.values()]
    if started_at is None or finished_at is None or not starts or None in starts:
        return None
    first = min(t for t in starts if t is not None)
    lead = (first - started_at).total_seconds()
    tail = (finished_at - first).total_seconds() - sum(processing_stages.values())
    return {JOB_START: max(lead, 0.0), JOB_FINISH: max(tail, 0.0)}


def job_overhead_runs(
    started_at: datetime | None,
    finished_at: datetime | None,
    stage_units: Mapping[str, Mapping[str, Any]],
    processing_stages: Mapping[str, float],
) -> list[StageRun]:
    """``job_overheads`` as runs of the pseudo-stages (one unit each), learned as stages are."""
    seen = job_overheads(started_at, finished_at, stage_units, processing_stages) or {}
    return [StageRun(name, JOB_UNIT, 1.0, max(seconds, 1e-3)) for name, seconds in seen.items()]


def learn_run(rate: StageRate, run: StageRun) -> StageRate:
    """The rate with one more finished run of its stage folded in."""
    return update(
        rate,
        run.units,
        run.seconds,
        startup_seconds=run.startup_seconds,
        half_seconds=run.half_seconds,
        reference_units=run.reference_units,
    )


def stage_rate(
    artifact: ArtifactPlan, stage: StagePlan, rates: RateBook, prior_factor: float
) -> StageRate:
    return lookup(rates, artifact.pipeline, stage.name, artifact.engine, stage.unit, prior_factor)


def expected_stage(artifact: ArtifactPlan, stage: StagePlan, rate: StageRate) -> StagePlan:
    """The stage with the total to expect, where nothing gave one before it started."""
    if stage.total_known or stage.started_at is not None or stage.finished:
        return stage
    reference = artifact.stages[0].units_total if artifact.stages[0].total_known else None
    units = rate.typical_units(reference)
    return stage if units is None else replace(stage, units_total=units)


def stage_weights(
    artifact: ArtifactPlan, rates: RateBook, prior_factor: float = 4.0
) -> list[float]:
    """Expected seconds of each stage: the weight it carries in the artifact's progress."""
    weights = []
    for s in artifact.stages:
        rate = stage_rate(artifact, s, rates, prior_factor)
        weights.append(rate.expected_seconds(expected_stage(artifact, s, rate).units_total))
    return weights


def _weighted(fractions: Sequence[float], weights: Sequence[float]) -> float:
    total = sum(weights)
    if total <= 0:
        # Nothing is expected to cost anything: count stages instead.
        return sum(fractions) / len(fractions) if fractions else 0.0
    return sum(f * w for f, w in zip(fractions, weights, strict=True)) / total


def _percent(fraction: float, finished: bool) -> float:
    p = 100.0 * min(max(fraction, 0.0), 1.0)
    return 100.0 if finished else min(p, UNFINISHED_CAP)


def artifact_progress(artifact: ArtifactPlan, rates: RateBook, prior_factor: float = 4.0) -> float:
    """Percent done of one artifact. An ended (failed) artifact shows where it stopped."""
    fraction = _weighted(
        [s.fraction for s in artifact.stages], stage_weights(artifact, rates, prior_factor)
    )
    return _percent(fraction, all(s.finished for s in artifact.stages))


def job_progress(job: JobPlan, rates: RateBook, prior_factor: float = 4.0) -> float:
    """Percent done of a job: its artifacts weighted by their expected seconds.

    An ended artifact counts as done while others go on: its work is no longer ahead of the
    job. When every artifact ended, the job failed, and progress shows where it stopped.
    """
    all_ended = all(a.ended for a in job.artifacts)
    fractions: list[float] = []
    weights: list[float] = []
    for a in job.artifacts:
        w = stage_weights(a, rates, prior_factor)
        weights.append(sum(w))
        done = a.ended and not all_ended
        fractions.append(1.0 if done else _weighted([s.fraction for s in a.stages], w))
    completed = job.finished and not all_ended
    return _percent(_weighted(fractions, weights), completed)


def monotonic(previous: float | None, new: float) -> float:
    """Progress to show: never below what was shown before within the same attempt.

    Weights move when a rate is learned or a stage corrects its total; the bar must not.
    The caller passes ``previous=None`` when a new attempt starts.
    """
    if previous is None:
        return new
    return max(previous, new)


@dataclass(frozen=True)
class DurationFields:
    """``duration_processed`` / ``duration_total`` of the status contract, in ``unit``."""

    processed: float
    total: float
    unit: str


def duration_fields(
    job: JobPlan, rates: RateBook, prior_factor: float = 4.0
) -> DurationFields | None:
    """Units of each artifact's heaviest stage (the transcription, for audio), summed.

    Summed only over artifacts whose heaviest stage shares the first one's unit: seconds and
    pages do not add up.
    """
    picked: list[StagePlan] = []
    for a in job.artifacts:
        if not a.stages:
            continue
        w = stage_weights(a, rates, prior_factor)
        picked.append(a.stages[max(range(len(w)), key=w.__getitem__)])
    if not picked:
        return None
    unit = picked[0].unit
    same = [s for s in picked if s.unit == unit]
    return DurationFields(
        processed=sum(s.units_total if s.finished else s.units_done for s in same),
        total=sum(s.units_total for s in same),
        unit=unit,
    )


def stalled_for(
    last_report_at: datetime | None, now: datetime, stall_after: float, *, processing: bool = True
) -> float | None:
    """Seconds without a progress report, once that passes ``stall_after``; else None.

    Stalled is a flag, not a status (design.md): only a processing job can be stalled.
    ``last_report_at`` is the last progress report, or the start of processing if none came.
    """
    if not processing or last_report_at is None:
        return None
    silent = (now - last_report_at).total_seconds()
    return silent if silent >= stall_after else None

"""The learned estimate against simulated runs: accuracy and the range's coverage.

Runs are simulated, not timed: each run draws a machine speed shared by its stages, a
per-stage deviation and per-chunk noise inside a stage (log-normal, seeded), so the test is
fast and repeatable. History is learned with ``rates.update`` from runs of the same kind.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stagecoach.domain.eta import EstimatorName, Shown, estimate
from stagecoach.domain.progress import ArtifactPlan, JobPlan, StagePlan, monotonic
from stagecoach.domain.rates import RateKey, StageRate, lookup, update

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PIPELINE = "audio"
# (stage, unit, typical seconds per unit, start-up seconds)
STAGES = (("Decoding", "audio_seconds", 0.01, 0.2), ("Transcribing", "audio_seconds", 0.2, 1.5))
CHUNKS = 20
CHECKPOINTS = (0.0, 0.10, 0.25, 0.50, 0.75, 0.90)


@dataclass(frozen=True)
class SimStage:
    name: str
    unit: str
    units: float
    startup: float
    chunk_seconds: tuple[float, ...]  # time for each 1/CHUNKS of the units

    @property
    def seconds(self) -> float:
        return self.startup + sum(self.chunk_seconds)

    def units_done(self, t: float) -> float:
        """Units done ``t`` seconds into the stage (reports are frequent: linear in a chunk)."""
        t -= self.startup
        per_chunk = self.units / CHUNKS
        done = 0.0
        for c in self.chunk_seconds:
            if t <= 0:
                break
            done += per_chunk * min(t / c, 1.0)
            t -= c
        return min(done, self.units)


def simulate_run(
    rng: random.Random,
    units: float,
    machine_sd: float = 0.25,
    stage_sd: float = 0.15,
    chunk_sd: float = 0.15,
) -> list[SimStage]:
    machine = rng.gauss(0.0, machine_sd)
    out = []
    for name, unit, spu, startup in STAGES:
        stage_spu = spu * math.exp(machine + rng.gauss(0.0, stage_sd))
        chunks = tuple(
            units / CHUNKS * stage_spu * math.exp(rng.gauss(0.0, chunk_sd)) for _ in range(CHUNKS)
        )
        out.append(SimStage(name, unit, units, startup, chunks))
    return out


def learn(rng: random.Random, runs: int, **noise: float) -> dict[RateKey, StageRate]:
    rates: dict[RateKey, StageRate] = {}
    for _ in range(runs):
        for s in simulate_run(rng, rng.uniform(60, 1200), **noise):
            key = RateKey(PIPELINE, s.name)
            rate = rates.get(key) or lookup(rates, PIPELINE, s.name, "", s.unit)
            half = s.startup + sum(s.chunk_seconds[: CHUNKS // 2])
            rates[key] = update(rate, s.units, s.seconds, s.startup, half_seconds=half)
    return rates


def plan_at(run: list[SimStage], t: float) -> JobPlan:
    """The job as the tracker sees it ``t`` seconds after the run started."""
    stages = []
    begin = 0.0
    for s in run:
        if t >= begin + s.seconds:
            stages.append(
                StagePlan(
                    s.name,
                    s.unit,
                    s.units,
                    s.units,
                    finished=True,
                    started_at=T0 + timedelta(seconds=begin),
                    seconds=s.seconds,
                )
            )
        elif t >= begin:
            stages.append(
                StagePlan(
                    s.name,
                    s.unit,
                    s.units,
                    s.units_done(t - begin),
                    started_at=T0 + timedelta(seconds=begin),
                    progress_at=T0 + timedelta(seconds=t),
                )
            )
        else:
            stages.append(StagePlan(s.name, s.unit, s.units))
        begin += s.seconds
    return JobPlan((ArtifactPlan(PIPELINE, tuple(stages)),))


@dataclass
class Outcome:
    errors: dict[float, list[float]]
    covered: dict[float, list[bool]]


def run_trials(
    seed: int, trials: int, history: int, estimator: EstimatorName = "learned", **noise: float
) -> Outcome:
    rng = random.Random(seed)
    out = Outcome({c: [] for c in CHECKPOINTS}, {c: [] for c in CHECKPOINTS})
    for _ in range(trials):
        rates = learn(rng, history, **noise)
        run = simulate_run(rng, rng.uniform(60, 1200), **noise)
        total = sum(s.seconds for s in run)
        for c in CHECKPOINTS:
            t = c * total
            now = T0 + timedelta(seconds=t)
            e = estimate(plan_at(run, t), now=now, rates=rates, estimator=estimator)
            truth = total - t
            # No estimate at all (rate, before any progress) counts as wrong by the whole run.
            err = 1.0 if e.eta_seconds is None else abs(e.eta_seconds - truth) / total
            out.errors[c].append(err)
            if e.eta_low is not None and e.eta_high is not None:
                out.covered[c].append(e.eta_low <= truth <= e.eta_high)
    return out


def coverage(values: list[bool]) -> float:
    return sum(values) / len(values)


def test_range_holds_the_real_finish_about_80_percent_of_the_time() -> None:
    out = run_trials(seed=6, trials=150, history=8)
    overall = coverage([v for vs in out.covered.values() for v in vs])
    assert 0.72 <= overall <= 0.92, overall
    for c, vs in out.covered.items():
        assert coverage(vs) >= 0.6, (c, coverage(vs))


def test_median_error_is_within_10_percent_from_a_quarter_of_the_run() -> None:
    out = run_trials(seed=7, trials=150, history=5)
    for c in CHECKPOINTS:
        if c >= 0.25:
            assert statistics.median(out.errors[c]) <= 0.10, (c, statistics.median(out.errors[c]))


def test_noisier_runs_get_wider_ranges_not_worse_coverage() -> None:
    out = run_trials(seed=8, trials=150, history=8, machine_sd=0.5, stage_sd=0.2)
    overall = coverage([v for vs in out.covered.values() for v in vs])
    assert 0.7 <= overall <= 0.95, overall


def test_learned_beats_the_seed_formula_and_plain_rate() -> None:
    median = {
        name: {c: statistics.median(v) for c, v in run_trials(9, 80, 5, name).errors.items()}
        for name in ("learned", "seed", "rate")
    }
    for c in CHECKPOINTS:
        assert median["learned"][c] <= median["rate"][c], (c, median)
        assert median["learned"][c] < median["seed"][c], (c, median)


def test_a_stage_that_runs_unevenly_still_gets_an_honest_range() -> None:
    even = run_trials(seed=10, trials=100, history=8)
    uneven = run_trials(seed=10, trials=100, history=8, chunk_sd=0.4)
    overall = coverage([v for vs in uneven.covered.values() for v in vs])
    assert 0.7 <= overall <= 0.92, overall
    assert statistics.median(uneven.errors[0.5]) > statistics.median(even.errors[0.5])


def test_polled_through_a_run_progress_only_rises_and_smoothing_costs_little() -> None:
    rng = random.Random(12)
    raw_moves = shown_moves = 0.0
    raw_errors: list[float] = []
    shown_errors: list[float] = []
    for _ in range(30):
        rates = learn(rng, 5)
        run = simulate_run(rng, rng.uniform(60, 1200))
        total = sum(s.seconds for s in run)
        previous: Shown | None = None
        last: tuple[datetime, datetime] | None = None
        progress = 0.0
        for t in range(0, int(total), 5):  # a page polling every 5 seconds
            now = T0 + timedelta(seconds=t)
            plan = plan_at(run, t)
            raw = estimate(plan, now=now, rates=rates)
            shown = estimate(plan, now=now, rates=rates, previous=previous)
            assert raw.estimated_completion and shown.estimated_completion
            assert shown.progress >= progress
            progress = monotonic(progress, shown.progress)
            previous = shown.shown(now)
            if last is not None:
                raw_moves += abs((raw.estimated_completion - last[0]).total_seconds()) / total
                shown_moves += abs((shown.estimated_completion - last[1]).total_seconds()) / total
            last = (raw.estimated_completion, shown.estimated_completion)
            if t >= 0.25 * total:
                raw_errors.append(abs((raw.eta_seconds or 0) - (total - t)) / total)
                shown_errors.append(abs((shown.eta_seconds or 0) - (total - t)) / total)
    assert shown_moves < raw_moves
    assert statistics.median(shown_errors) <= statistics.median(raw_errors) + 0.01

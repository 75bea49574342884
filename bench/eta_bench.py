"""How good are the time estimates? Real jobs through the real service, three estimators.

A server with its embedded worker (SQLite, one job at a time) processes generated files one
after another: recordings of 1 to 20 minutes, PDFs of 5 to 500 pages, datasets of 1k to 1M
rows (`BENCH_ETA_SCALE` scales the sizes; 1 is the issue's). The bench uploads each file
and polls its status document until it ends, keeping every document that changed.

A job's real duration runs from the upload's 202 answer to its `finished_at`. At 10, 25,
50, 75 and 90 % of it, each estimator's predicted finish is compared with the real one:

    error = |predicted finish - real finish| / real duration

- ``learned``: what the status endpoint itself showed then (`estimated_completion`), and
  whether its range (`eta_low` .. `eta_high`) held the real finish;
- ``seed`` and ``rate``: the seed's formula and a plain done/elapsed rate, computed by
  `domain.eta.estimate` on the plan rebuilt from that same status document.

Three cases, each on a fresh database (`BENCH_ETA_CASES`, comma-separated; default all):

- ``warm``: the jobs that ran after their pipeline had five finished jobs; the service
  learned from every job before, as it does in use;
- ``cold``: the first five jobs of each pipeline, on a database that starts empty and
  with calibration off (the priors alone);
- ``calibrated``: the same, with calibration on: the server calibrates in the background
  at its start, and the bench waits for it to finish before the first upload.

``warm`` and ``cold`` come from the same recording; ``calibrated`` is another. Besides the
checkpoints, each case shows the first estimate a job showed (in the upload's answer)
against its real duration: the share within 2x, and the median ratio.
`BENCH_ETA_PER_PIPELINE=n` keeps the first n inputs of each pipeline (a smoke run:
`BENCH_ETA_SCALE=0.05 BENCH_ETA_PER_PIPELINE=3`).

`BENCH_ETA_SEED` picks the order the jobs run in. `BENCH_ETA_SAVE=path` keeps the recorded
documents. `BENCH_ETA_REPLAY=path[,path...]` evaluates recordings again without running
jobs (each on its own, the tables pooled), replaying the learned estimator offline at each
write the recording saw (``learned*``): a way to try a change to the estimator quickly.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from bench.common import database, pct, server, token
from stagecoach.domain.eta import Estimate, Shown, estimate
from stagecoach.domain.progress import (
    JobPlan,
    artifact_plan,
    finished_stage_runs,
    job_overhead_runs,
    learn_run,
    parse_time,
)
from stagecoach.domain.rates import RateKey, StageRate, lookup
from stagecoach.pipelines.registry import builtin_pipelines
from stagecoach.services.estimates import stage_options
from stagecoach.settings import Settings

CHECKPOINTS = (0.10, 0.25, 0.50, 0.75, 0.90)
WARM = 5  # finished jobs of a pipeline before its estimates count
SCALE = float(os.environ.get("BENCH_ETA_SCALE", "1"))
PER_PIPELINE = int(os.environ.get("BENCH_ETA_PER_PIPELINE", "12"))
CASES = tuple(os.environ.get("BENCH_ETA_CASES", "warm,cold,calibrated").split(","))
CALIBRATION_TIMEOUT = 300.0
PRIOR_FACTOR = Settings.model_fields["transcription_prior_factor"].default
TERMINAL = {"completed", "failed", "cancelled", "expired"}

AUDIO_MINUTES = [1, 3, 2, 8, 1.5, 5, 20, 2.5, 12, 4, 1, 6]
PDF_PAGES = [5, 20, 10, 50, 30, 100, 15, 200, 60, 500, 8, 300]
DATASET_ROWS = [
    *(1_000, 10_000, 5_000, 50_000, 2_000, 100_000),
    *(20_000, 200_000, 30_000, 1_000_000, 3_000, 500_000),
]


# --- recording real jobs ------------------------------------------------------------------


@dataclass
class Recorded:
    """One job as a client saw it: the documents that changed, each with the time it was read."""

    pipeline: str
    label: str
    accepted_at: str  # when the upload was answered
    facts: dict[str, dict[str, Any]]  # media facts by file id
    polls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    first_eta: float | None = None  # the time left the upload's answer showed

    @property
    def final(self) -> dict[str, Any]:
        return self.polls[-1][1]


def inputs(work: Path) -> list[tuple[str, Path, str]]:
    from tests.pipelines.datasets import sales_rows, write_delimited
    from tests.pipelines.documents import make_pdf

    from bench.pipelines_bench import recording

    jobs: list[tuple[str, Path, str]] = []
    for i, m in enumerate(AUDIO_MINUTES[:PER_PIPELINE]):
        m = max(0.25, m * SCALE)
        jobs.append(("audio", recording(work, f"rec{i}", m, speech_share=0.8), f"{m:g} min"))
    for i, p in enumerate(PDF_PAGES[:PER_PIPELINE]):
        p = max(2, int(p * SCALE))
        jobs.append(("document", make_pdf(work / f"doc{i}.pdf", p), f"{p} pages"))
    for i, r in enumerate(DATASET_ROWS[:PER_PIPELINE]):
        r = max(100, int(r * SCALE))
        path = write_delimited(work / f"data{i}.csv", sales_rows(r, seed=i))
        jobs.append(("dataset", path, f"{r} rows"))
    return jobs


def _now() -> str:
    return datetime.now(UTC).isoformat()


def run_one(client: httpx.Client, pipeline: str, path: Path, label: str) -> Recorded:
    with open(path, "rb") as f:
        r = client.post("/api/v1/upload", files={"files": (path.name, f)})
    if r.status_code != 202:
        raise RuntimeError(f"upload of {path.name} answered {r.status_code}: {r.text[:300]}")
    accepted = _now()
    answer = r.json()
    job_id = answer["job_id"]
    rec = Recorded(pipeline, label, accepted, {})
    rec.first_eta = answer.get("eta_seconds")
    start, last = time.monotonic(), None
    while True:
        doc = client.get(f"/api/v1/jobs/{job_id}/status").raise_for_status().json()
        if doc["updated_at"] != last:
            rec.polls.append((_now(), doc))
            last = doc["updated_at"]
        if doc["status"] in TERMINAL:
            break
        # Often enough to see every write of a short job, without loading a long one.
        time.sleep(min(max((time.monotonic() - start) / 100, 0.02), 0.5))
    for a in rec.final["artifacts"]:
        if a["file_id"]:
            rec.facts[a["file_id"]] = client.get(f"/api/v1/files/{a['file_id']}").json()
    return rec


def record(
    todo: list[tuple[str, Path, str]], *, calibrate: bool = False, seeded: dict | None = None
) -> Iterator[Recorded]:
    """Run the jobs on a fresh database; with ``calibrate``, once the server's own
    background calibration has seeded every pipeline's rates (put in ``seeded``)."""
    env = {
        "STAGECOACH_WORKER_CONCURRENCY": "1",
        "STAGECOACH_CALIBRATE": "true" if calibrate else "false",
    }
    with (
        database("sqlite") as (url, data),
        server(url, data, cpu=None, worker=True, extra_env=env) as base,
    ):
        if calibrate:
            started = time.monotonic()
            rates = wait_for_calibration(url, data)
            print(f"  calibrated {len(rates)} stages in {time.monotonic() - started:.1f} s")
            for key, rate in sorted(rates.items(), key=lambda kv: (kv[0].pipeline, kv[0].stage)):
                print(
                    f"    {key.pipeline}/{key.stage}: {rate.spu:.3g} s per unit, "
                    f"start-up {rate.startup_seconds:.2f} s"
                )
            if seeded is not None:
                seeded.update(rates)
        headers = {"Authorization": f"Bearer {token(base)}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for name, path, label in todo:
                yield run_one(client, name, path, label)


def wait_for_calibration(url: str, data: Path) -> dict[RateKey, StageRate]:
    """Wait until the server's calibration has nothing left to do; the rates it seeded."""
    from stagecoach.services.calibration import Calibration
    from stagecoach.services.context import ServiceContext
    from stagecoach.store import rates as rates_store

    ctx = ServiceContext.from_settings(Settings(database_url=url, data_dir=data))
    wanted = {"audio", "document", "dataset"}
    try:
        calibration = Calibration(ctx, builtin_pipelines())
        deadline = time.monotonic() + CALIBRATION_TIMEOUT
        while wanted & set(calibration.due()):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not calibrate in time")
            time.sleep(0.5)
        with ctx.db.read() as conn:
            rows = rates_store.all_rates(conn)
        return {
            RateKey(r["pipeline"], r["stage"], r["engine"]): StageRate.from_dict(r["state"])
            for r in rows
        }
    finally:
        ctx.db.dispose()


# --- evaluating -------------------------------------------------------------------------


@cache
def _pipeline(name: str) -> tuple[str, list[tuple[str, str]]]:
    """A pipeline's engine and (stage, unit)s: looked up once, not at every document."""
    pipeline = builtin_pipelines()[name]
    engine = pipeline.engine(stage_options(Settings())) if pipeline.engine else ""
    return engine, [(s.name, s.unit) for s in pipeline.stages]


def plan_of(rec: Recorded, doc: dict[str, Any]) -> JobPlan:
    """The plan the service had when it wrote ``doc``, rebuilt from the document."""
    engine, stages = _pipeline(rec.pipeline)
    return JobPlan(
        tuple(
            artifact_plan(
                rec.pipeline,
                stages,
                a["stage_units"] or {},
                a["processing_stages"] or {},
                rec.facts.get(a["file_id"]) or {},
                engine=engine,
                completed=a["status"] == "completed",
                ended=a["status"] in ("failed", "cancelled"),
            )
            for a in doc["artifacts"]
        )
    )


def learn(rates: dict[RateKey, StageRate], rec: Recorded) -> None:
    """What the service learns when the job's stages finish and when it completes."""
    final = rec.final
    plan = plan_of(rec, final)
    for a_doc, a in zip(final["artifacts"], plan.artifacts, strict=True):
        units, seconds = a_doc["stage_units"] or {}, a_doc["processing_stages"] or {}
        runs = finished_stage_runs(units, seconds)
        if len(final["artifacts"]) == 1:  # as the service: one-file jobs only
            started, ended = parse_time(final["started_at"]), parse_time(final["finished_at"])
            runs += job_overhead_runs(started, ended, units, seconds)
        for run in runs:
            rate = lookup(rates, rec.pipeline, run.stage, a.engine, run.unit, PRIOR_FACTOR)
            rates[RateKey(rec.pipeline, run.stage, a.engine)] = learn_run(rate, run)


@dataclass(frozen=True)
class Guess:
    finish: datetime | None
    low: datetime | None = None
    high: datetime | None = None


def _offset(now: datetime, e: Estimate) -> Guess:
    def at(s: float | None) -> datetime | None:
        return None if s is None else now + timedelta(seconds=s)

    return Guess(at(e.eta_seconds), at(e.eta_low), at(e.eta_high))


def replay_learned(rec: Recorded, rates: dict[RateKey, StageRate]) -> list[tuple[datetime, Guess]]:
    """The learned estimator run offline at each write the recording saw, as the service
    runs it (smoothed from the estimate before; afresh when the job is claimed)."""
    out: list[tuple[datetime, Guess]] = []
    shown: Shown | None = None
    status = None
    for _, doc in rec.polls:
        if doc["status"] in TERMINAL:
            break
        now = parse_time(doc["updated_at"])
        assert now is not None
        if doc["status"] != status:
            shown, status = None, doc["status"]
        e = estimate(
            plan_of(rec, doc),
            now=now,
            rates=rates,
            prior_factor=PRIOR_FACTOR,
            previous=shown,
        )
        shown = e.shown(now)
        out.append((now, _offset(now, e)))
    return out


def checkpoints(
    rec: Recorded, rates: dict[RateKey, StageRate], replay: bool
) -> dict[str, list[Guess]]:
    """Each estimator's guess of the finish at each checkpoint."""
    accepted = parse_time(rec.accepted_at)
    finished = parse_time(rec.final["finished_at"])
    assert accepted is not None and finished is not None
    duration = (finished - accepted).total_seconds()
    polls = [(parse_time(t), doc) for t, doc in rec.polls]
    writes = replay_learned(rec, rates) if replay else []
    out: dict[str, list[Guess]] = {"learned": [], "learned*": [], "seed": [], "rate": []}
    for c in CHECKPOINTS:
        at = accepted + timedelta(seconds=c * duration)
        seen = [doc for t, doc in polls if t is not None and t <= at] or [polls[0][1]]
        doc = seen[-1]
        out["learned"].append(
            Guess(
                parse_time(doc["estimated_completion"]),
                parse_time(doc["eta_low"]),
                parse_time(doc["eta_high"]),
            )
        )
        if replay:
            before = [g for t, g in writes if t <= at] or [Guess(None)]
            out["learned*"].append(before[-1])
        plan = plan_of(rec, doc)
        for name in ("seed", "rate"):
            e = estimate(plan, now=at, rates=rates, estimator=name, prior_factor=PRIOR_FACTOR)  # type: ignore[arg-type]
            out[name].append(_offset(at, e))
    return out


@dataclass
class Scores:
    errors: dict[str, list[list[float]]] = field(default_factory=dict)  # by checkpoint
    covered: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, name: str, guesses: list[Guess], finish: datetime, duration: float) -> None:
        errs = self.errors.setdefault(name, [[] for _ in CHECKPOINTS])
        for i, g in enumerate(guesses):
            err = 1.0 if g.finish is None else abs((g.finish - finish).total_seconds()) / duration
            errs[i].append(err)
            if g.low is not None and g.high is not None:
                self.covered.setdefault(name, []).append(g.low <= finish <= g.high)


@dataclass
class Tally:
    """Scores of one or more recordings: warm jobs, cold jobs (before ``WARM``), all jobs,
    warm jobs by pipeline; and each job's first estimate over its real duration."""

    warm: Scores = field(default_factory=Scores)
    cold: Scores = field(default_factory=Scores)
    everything: Scores = field(default_factory=Scores)
    by_pipeline: dict[str, Scores] = field(default_factory=dict)
    first_ratios: dict[str, list[float]] = field(default_factory=dict)  # "warm" / "cold"


def evaluate(
    recs: list[Recorded],
    replay: bool,
    shown: str = "learned",
    tally: Tally | None = None,
    seeded: dict[RateKey, StageRate] | None = None,
) -> Tally:
    """Score one recording (learning from nothing, as a new installation does, or from the
    calibrated rates ``seeded``), printing each job's errors (estimator ``shown``); adds to
    ``tally`` when given."""
    rates: dict[RateKey, StageRate] = dict(seeded or {})
    finished: dict[str, int] = {}
    tally = tally or Tally()
    print(f"{'pipeline':<9} {'input':<13} {'seconds':>8}  {shown} error at 10/25/50/75/90 %")
    for rec in recs:
        if rec.final["status"] != "completed":
            print(f"{rec.pipeline:<9} {rec.label:<13} ended {rec.final['status']}: skipped")
            continue
        accepted, finish = parse_time(rec.accepted_at), parse_time(rec.final["finished_at"])
        assert accepted is not None and finish is not None
        duration = (finish - accepted).total_seconds()
        is_warm = finished.get(rec.pipeline, 0) >= WARM
        guesses = checkpoints(rec, rates, replay)
        for name, gs in guesses.items():
            if gs:
                tally.everything.add(name, gs, finish, duration)
                if is_warm:
                    tally.warm.add(name, gs, finish, duration)
                    scores = tally.by_pipeline.setdefault(rec.pipeline, Scores())
                    scores.add(name, gs, finish, duration)
                else:
                    tally.cold.add(name, gs, finish, duration)
        if rec.first_eta is not None and duration > 0:
            kind = "warm" if is_warm else "cold"
            tally.first_ratios.setdefault(kind, []).append(rec.first_eta / duration)
        errs = [e[-1] for e in tally.everything.errors[shown]]
        print(
            f"{rec.pipeline:<9} {rec.label:<13} {duration:>8.2f}  "
            + " ".join(f"{e * 100:5.1f}%" for e in errs)
            + ("" if is_warm else "   (learning)"),
            flush=True,
        )
        learn(rates, rec)
        finished[rec.pipeline] = finished.get(rec.pipeline, 0) + 1
    return tally


def report(tally: Tally, cases: tuple[str, ...] = ("warm", "cold"), title: str = "") -> None:
    if "warm" in cases:
        _table(f"{title}warm: after {WARM} finished jobs of the pipeline", tally.warm)
        for pipeline, scores in sorted(tally.by_pipeline.items()):
            _table(f"{title}{pipeline}, after {WARM} finished jobs", scores)
        _coverage(f"{title}warm", tally.warm)
    if "cold" in cases:
        _table(f"{title}cold: the first {WARM} jobs of each pipeline", tally.cold)
        _coverage(f"{title}cold", tally.cold)
    for kind, ratios in sorted(tally.first_ratios.items()):
        if kind not in cases:
            continue
        within = sum(0.5 <= r <= 2.0 for r in ratios)
        print(
            f"\n{title}{kind}: first estimate shown (before any report) within 2x of the real "
            f"duration for {within} of {len(ratios)} jobs; median ratio {pct(ratios, 50):.2f}"
        )


def _coverage(title: str, scores: Scores) -> None:
    for name, cov in scores.covered.items():
        if cov:
            print(
                f"{title} {name}: the range (eta_low..eta_high) held the real finish in "
                f"{100 * sum(cov) / len(cov):.0f} % of {len(cov)} checks"
            )


def _table(title: str, scores: Scores) -> None:
    n = len(scores.errors["learned"][0]) if scores.errors else 0
    if not n:
        print(f"\n{title}: no jobs")
        return
    print(f"\n{title} ({n} jobs): median / p90 absolute error, % of real duration")
    print(f"{'estimator':<10}" + "".join(f"{f'at {int(c * 100)} %':>16}" for c in CHECKPOINTS))
    for name, errs in scores.errors.items():
        cells = "".join(f"{f'{pct(e, 50) * 100:.1f} / {pct(e, 90) * 100:.1f}':>16}" for e in errs)
        print(f"{name:<10}{cells}")


def _save(path: str, recs: list[Recorded]) -> None:
    Path(path).write_text(json.dumps([r.__dict__ for r in recs]))


def main() -> None:
    replay_from = os.environ.get("BENCH_ETA_REPLAY")
    if replay_from:
        # Several recordings (comma-separated) are scored each on its own, pooled.
        tally = Tally()
        for path in replay_from.split(","):
            recs = [Recorded(**r) for r in json.loads(Path(path).read_text())]
            print(f"\nreplaying {len(recs)} recorded jobs from {path}")
            evaluate(recs, replay=True, shown="learned*", tally=tally)
        report(tally)
        return
    with tempfile.TemporaryDirectory(prefix="sc-eta-") as tmp:
        print(f"generating inputs (scale {SCALE:g})...", flush=True)
        todo = inputs(Path(tmp))
        random.Random(int(os.environ.get("BENCH_ETA_SEED", "3"))).shuffle(todo)
        plain = tuple(c for c in CASES if c in ("warm", "cold"))
        if plain:
            print(f"\n{'/'.join(plain)}: a fresh database, calibration off", flush=True)
            recs = _run(record(todo), os.environ.get("BENCH_ETA_SAVE"))
            report(evaluate(recs, replay=True), plain)
        if "calibrated" in CASES:
            print("\ncalibrated: a fresh database, calibration on", flush=True)
            seeded: dict[RateKey, StageRate] = {}
            save = os.environ.get("BENCH_ETA_SAVE")
            recs = _run(record(todo, calibrate=True, seeded=seeded), save and save + ".cal")
            tally = evaluate(recs, replay=True, seeded=seeded)
            report(tally, ("cold",), title="calibrated ")


def _run(jobs: Iterator[Recorded], save: str | None) -> list[Recorded]:
    recs = []
    for rec in jobs:
        recs.append(rec)
        print(f"  ran {rec.pipeline} {rec.label}: {rec.final['status']}", flush=True)
        if save:
            _save(save, recs)
    print()
    return recs


if __name__ == "__main__":
    main()

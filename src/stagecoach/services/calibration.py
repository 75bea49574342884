"""Calibration: measure this machine's pace per (pipeline, stage, engine) on small built-in
samples and seed the learned rates with it, so the first estimate a new installation shows
is measured rather than guessed (the transcription prior alone is off by ten times).

It runs in the background when a worker starts (setting ``calibrate``), for each pipeline
that has a built-in sample and no rates yet under its current engine, or whose rates were
calibrated with another engine or model. The samples run through the pipeline's own stage
functions in a stage host, as a real file does, three times: the first run pays the imports
and the model load once, as a host's first file does; of the next two, each stage keeps its
fastest. The seeded rate is still a prior: the first real run of a stage replaces it
(``rates.calibrated``). Every step is logged under ``stagecoach.calibration``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stagecoach.domain.progress import StageRun, finished_stage_runs
from stagecoach.domain.rates import RateKey, StageRate, calibrated, lookup
from stagecoach.pipelines.base import ArtifactInput, Pipeline
from stagecoach.pipelines.local import artifact_for_file
from stagecoach.pipelines.samples import Sample, sample_for
from stagecoach.services.context import ServiceContext
from stagecoach.services.estimates import Estimates, stage_options
from stagecoach.store import rates as store

log = logging.getLogger("stagecoach.calibration")

REPORT_INTERVAL = 0.05  # the host reports this often during calibration (first and half)
STAGE_TIMEOUT = 120.0  # a sample stage that takes longer is given up on
MEASURED_RUNS = 2
"""Runs kept after the warm-up; each stage keeps its fastest. Calibration runs as a server
starts, beside its imports and its first stage process: one slow run there once seeded a
transcription pace twice the real one."""


def _builtin_sample(pipeline: Pipeline, directory: Path) -> Sample | None:
    """Built-in samples are for the built-in pipelines only (same objects, not same name)."""
    from stagecoach.pipelines.registry import builtin_pipelines

    if builtin_pipelines().get(pipeline.name) is not pipeline:
        return None
    return sample_for(pipeline.name, directory)


class Calibration:
    """Measures and seeds. ``samples`` gives a pipeline's sample (default: the built-in
    ones); ``run`` does the work in the calling thread, ``start`` in a background one.
    Other processes' estimates see the seeded rates when they next read the rates (their
    cache lives a couple of seconds); ``estimates``, if given, sees them at once."""

    def __init__(
        self,
        ctx: ServiceContext,
        pipelines: Mapping[str, Pipeline],
        *,
        estimates: Estimates | None = None,
        samples: Callable[[Pipeline, Path], Sample | None] = _builtin_sample,
    ) -> None:
        self.ctx = ctx
        self.pipelines = dict(pipelines)
        self.estimates = estimates or Estimates(ctx, self.pipelines)
        self.samples = samples
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._host: Any = None

    def fingerprint(self, pipeline: str) -> str:
        """What a calibration of this pipeline was measured with: its engine and options."""
        options = stage_options(self.ctx.settings)
        return json.dumps(
            {"engine": self.estimates.engine(pipeline), "options": options},
            sort_keys=True,
            default=str,
        )

    def due(self) -> list[str]:
        """Pipelines to calibrate: no rate under their current engine for any of their
        stages, or only calibrated ones measured with another engine or model. A stage with
        real history is never overwritten."""
        with self.ctx.db.read() as conn:
            rows = store.all_rates(conn)
        book = {
            RateKey(r["pipeline"], r["stage"], r["engine"]): StageRate.from_dict(r["state"])
            for r in rows
        }
        due = []
        for name, pipeline in self.pipelines.items():
            engine = self.estimates.engine(name)
            found = [book.get(RateKey(name, s.name, engine)) for s in pipeline.stages]
            have = [r for r in found if r is not None]
            if (
                not have
                or all(r.n == 0 and r.calibration for r in have)
                and any(r.calibration != self.fingerprint(name) for r in have)
            ):
                due.append(name)
        return due

    # --- background -----------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Calibrate in a background thread (the measuring itself runs in a child process);
        startup and the worker go on meanwhile."""
        self._thread = threading.Thread(target=self._run_logged, name="stagecoach-calibration")
        self._thread.daemon = True
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        host = self._host
        if host is not None:
            host.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:  # calibration must never take a worker down
            log.exception("calibration failed; estimates start from the priors")

    # --- the work -------------------------------------------------------------------
    def run(self, only: tuple[str, ...] | None = None) -> dict[RateKey, StageRate]:
        """Calibrate the pipelines due (of ``only``, if given); returns the rates seeded."""
        due = [p for p in self.due() if only is None or p in only]
        seeded: dict[RateKey, StageRate] = {}
        if not due:
            log.debug("calibration: nothing to do")
            return seeded
        from stagecoach.worker.worker import mp_context

        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="stagecoach-calibration-") as tmp:
            for name in due:
                if self._stop.is_set():
                    break
                pipeline = self.pipelines[name]
                sample = self.samples(pipeline, Path(tmp) / name / "sample")
                if sample is None:
                    continue
                engine = self.estimates.engine(name)
                log.info(
                    "calibration: measuring pipeline %s (engine %s) on a built-in %s sample",
                    name,
                    engine or "-",
                    sample.file_type,
                    extra={"pipeline": name, "engine": engine},
                )
                self._host = host = _new_host(
                    mp_context(),
                    self.ctx.settings.stage_memory_mb,
                    self.ctx.settings.stage_niceness,
                )
                try:
                    measured: list[list[StageRun]] = []
                    for attempt in range(1 + MEASURED_RUNS):  # warm up, then measure
                        art = self._artifact(sample, Path(tmp) / name / str(attempt))
                        got = _measure(host, pipeline, art, self._stop)
                        if got is None:
                            measured = []
                            break
                        if attempt:
                            measured.append(finished_stage_runs(*got))
                finally:
                    self._host = None
                    host.close()
                if not measured:
                    log.warning("calibration: pipeline %s did not finish its sample", name)
                    continue
                seeded.update(self._seed(name, engine, fastest(measured)))
        log.info(
            "calibration: seeded %d stage rates in %.1f s",
            len(seeded),
            time.monotonic() - started,
            extra={"stages": len(seeded)},
        )
        return seeded

    def _artifact(self, sample: Sample, directory: Path) -> ArtifactInput:
        return artifact_for_file(
            sample.path,
            directory / "work",
            directory / "results",
            file_type=sample.file_type,
            media=sample.media,
            options=stage_options(self.ctx.settings),
        )

    def _seed(self, pipeline: str, engine: str, runs: list[StageRun]) -> dict[RateKey, StageRate]:
        fingerprint = self.fingerprint(pipeline)
        prior_factor = self.ctx.settings.transcription_prior_factor
        seeded = {}
        with self.ctx.db.write() as conn:
            for run in runs:
                row = store.get_rate(conn, pipeline, run.stage, engine, for_update=True)
                old = StageRate.from_dict(row) if row else None
                if old is not None and old.n > 0:
                    continue  # a real run was learned meanwhile: it knows better
                base = old or lookup({}, pipeline, run.stage, engine, run.unit, prior_factor)
                rate = calibrated(
                    base,
                    run.units,
                    run.seconds,
                    fingerprint=fingerprint,
                    startup_seconds=run.startup_seconds,
                    half_seconds=run.half_seconds,
                    reference_units=run.reference_units,
                )
                self.estimates.put_rate(conn, RateKey(pipeline, run.stage, engine), rate)
                seeded[RateKey(pipeline, run.stage, engine)] = rate
                log.info(
                    "calibration: %s/%s (engine %s): %.3g s per %s, start-up %.2f s "
                    "(sample: %g %s in %.2f s)",
                    pipeline,
                    run.stage,
                    engine or "-",
                    rate.spu,
                    run.unit,
                    rate.startup_seconds,
                    run.units,
                    run.unit,
                    run.seconds,
                    extra={"pipeline": pipeline, "stage": run.stage, "engine": engine},
                )
        return seeded


def fastest(measured: list[list[StageRun]]) -> list[StageRun]:
    """Each stage's fastest run of the runs measured, in the stages' order."""
    best: dict[str, StageRun] = {}
    for runs in measured:
        for run in runs:
            if run.stage not in best or run.seconds < best[run.stage].seconds:
                best[run.stage] = run
    return list(best.values())


def _new_host(mp: Any, memory_mb: int, niceness: int) -> Any:
    """A stage host as the worker's: the same memory ceiling and CPU priority."""
    from stagecoach.worker.child import StageHost

    return StageHost(mp, memory_mb, niceness=niceness)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _measure(
    host: Any, pipeline: Pipeline, art: ArtifactInput, stop: threading.Event
) -> tuple[dict[str, dict[str, Any]], dict[str, float]] | None:
    """Run one sample through a stage host; the stage_units stamps and the seconds per
    stage, as the worker's relay would record them, or None if it did not finish."""
    from stagecoach.worker.child import StageSpec

    specs = [StageSpec(s.name, s.unit, s.run, s.total) for s in pipeline.stages]
    host.submit(specs, art, REPORT_INTERVAL)
    units: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    deadline = time.monotonic() + STAGE_TIMEOUT * len(specs)
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if not host.results.poll(0.2):
                continue
            msg = host.results.recv()
        except (EOFError, OSError, ValueError):  # the host died, or stop() closed it
            return None
        kind = msg[0]
        if kind in ("error", "exception"):
            log.warning("calibration: stage %s failed on the sample: %s", specs[msg[1]].name, msg)
            return None
        if kind == "done":
            return units, seconds
        i = msg[1]
        cur = units.setdefault(specs[i].name, {"unit": specs[i].unit, "done": 0.0, "total": None})
        now = _now_iso()
        if kind == "stage":
            cur.update(started_at=now, total=msg[2], done=0.0)
        elif kind == "total":
            cur["total"] = msg[2]
        elif kind == "progress" and msg[2]:
            # The same stamps as the worker's relay: first report (start-up), half (pace).
            cur.update(done=msg[2], progress_at=now)
            if not cur.get("first_at"):
                cur.update(first_at=now, first_done=msg[2])
            if cur.get("total") and msg[2] >= cur["total"] / 2 and not cur.get("half_at"):
                cur["half_at"] = now
        elif kind == "stage_done":
            cur.update(finished=True, done=msg[3])
            if not cur.get("total"):
                cur["total"] = msg[3]
            seconds[specs[i].name] = float(msg[2])
    return None

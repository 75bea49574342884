"""The queue: how many one-file jobs per second go through it, how soon an idle worker starts
one, and how many progress writes one SQLite database absorbs while the status poll is busy.

Throughput and claim latency, for stagecoach on SQLite, stagecoach on PostgreSQL, and
procrastinate (a PostgreSQL job queue, `bench/queue_procrastinate.py`) on a database of its
own on the same server, each with 1, 2 and 4 worker processes of the same concurrency:

- stagecoach's job is a checksum of one small uploaded file (the checksum stage, in a stage
  process, as every stage runs); procrastinate's is a no-op task;
- every round gets a fresh database and fresh workers; a warm-up (two jobs per worker slot)
  runs before anything is measured;
- throughput: ``BENCH_QUEUE_JOBS`` jobs committed at once; jobs/s from the first start to
  the last end, as the databases record them (stagecoach: the artifacts' ``started_at`` and
  ``completed_at``; procrastinate: its ``started`` and ``succeeded`` events);
- claim latency: jobs enqueued one at a time to idle workers; from the moment the enqueue's
  commit returned to the start the database records (stagecoach: the artifact's
  ``started_at``; procrastinate: its ``started`` event), p50 and p99.

Progress writes (SQLite): writer processes report progress on their own jobs through
`Tracking.report` as fast as they can while browser-like pollers ask a real server
(`stagecoach serve --no-worker`) for `GET /api/v1/jobs/{id}/status` of those jobs; the
poll's p50/p99 alone and under the writes.

Sizes are environment variables (`Sizes`); ``BENCH_QUEUE_SMOKE=1`` makes them tiny, to see
that the bench runs. Figures depend on the machine and its load; they are printed, never
asserted.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import httpx
import sqlalchemy as sa

from bench.common import (
    ADMIN_PASSWORD,
    database,
    env_for,
    pct,
    pg_available,
    server,
    token,
    worker_processes,
)
from bench.queue_figures import Timing, jobs_per_second, latencies_ms, ratio
from stagecoach.domain.job_update import Report
from stagecoach.domain.status import JobStatus
from stagecoach.pipelines.checksum import CHECKSUM
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.services.tracking import NewJob
from stagecoach.services.uploads import FileData, FileEnd, FileStart, Part
from stagecoach.settings import Settings
from stagecoach.store import migrate
from stagecoach.store.tables import artifacts

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("sqlite", "postgres", "procrastinate")
ENDED_BADLY = ("failed", "cancelled")
ENDED = ("completed", *ENDED_BADLY)

# The workers run this pipeline only (`--pipelines bench.queue_bench:PIPELINES`): the
# checksum stage, for the file type an upload of a small text file has.
PIPELINE = "bench-checksum"
PIPELINES = {PIPELINE: replace(CHECKSUM, name=PIPELINE, file_types=("document", "other"))}


# --- sizes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Each is ``BENCH_QUEUE_<NAME>`` in the environment, e.g. ``BENCH_QUEUE_JOBS=5000``."""

    jobs: int = 2000  # jobs committed at once, per throughput round
    workers: tuple[int, ...] = (1, 2, 4)  # worker processes, one round each
    concurrency: int = 2  # jobs each worker process runs at once
    latency_jobs: int = 100  # jobs enqueued one at a time, per round
    latency_gap: float = 0.1  # seconds between two of them
    systems: tuple[str, ...] = SYSTEMS  # which of sqlite, postgres, procrastinate
    write_seconds: float = 15.0  # how long the progress writers and the pollers run
    writers: int = 4  # progress writer processes, each on its own jobs
    pollers: int = 1000  # browser-like pollers, one status request every 2-5 s each
    timeout: float = 600.0  # seconds a round may take to drain its jobs

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(jobs=20, latency_jobs=5, write_seconds=3.0, writers=2, pollers=20, timeout=300.0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Sizes:
        base = cls.smoke() if env.get("BENCH_QUEUE_SMOKE", "") not in ("", "0") else cls()
        changes = {}
        for f in fields(cls):
            name = f"BENCH_QUEUE_{f.name.upper()}"
            if (raw := env.get(name)) is not None:
                try:
                    changes[f.name] = _parse(f.name, raw, getattr(base, f.name))
                except ValueError as exc:
                    raise ValueError(f"{name}={raw!r}: {exc}") from None
        return replace(base, **changes)


ZERO_ALLOWED = {"latency_jobs", "latency_gap"}


def _parse(field: str, raw: str, default: Any) -> Any:
    if field == "systems":
        names = tuple(s.strip() for s in raw.split(",") if s.strip())
        if unknown := set(names) - set(SYSTEMS):
            raise ValueError(f"unknown {', '.join(sorted(unknown))}; from {', '.join(SYSTEMS)}")
        return names
    values = [
        type(default[0] if isinstance(default, tuple) else default)(s) for s in raw.split(",")
    ]
    if not isinstance(default, tuple) and len(values) != 1:
        raise ValueError("one value, not a list")
    if any(v < 0 or (v == 0 and field not in ZERO_ALLOWED) for v in values):
        raise ValueError("must be positive")
    return tuple(values) if isinstance(default, tuple) else values[0]


# --- the queues under test -----------------------------------------------------------------


class BenchQueue(Protocol):
    def workers(self, n: int, concurrency: int) -> AbstractContextManager[None]: ...

    def enqueue(self) -> tuple[Any, datetime]: ...

    def enqueue_many(self, n: int) -> list[Any]: ...

    def ended(self) -> int: ...

    def timings(self, ids: Sequence[Any]) -> dict[Any, Timing]: ...


async def _one_file(name: str, content: bytes) -> AsyncIterator[Part]:
    yield FileStart("files", name, "text/plain")
    yield FileData(content)
    yield FileEnd()


class Stagecoach:
    """A fresh stagecoach database with one uploaded file; jobs on it for its workers."""

    def __init__(self, url: str, data: Path, log: Path) -> None:
        self.url, self.data, self.log = url, data, log
        settings = Settings(database_url=url, data_dir=data, admin_password=ADMIN_PASSWORD)
        self.services = Services(ServiceContext.from_settings(settings))
        migrate.upgrade(self.services.ctx.db.engine)
        self.user = self.services.accounts.create_user(
            f"bench-{uuid.uuid4().hex[:6]}", "bench-password", "analyst"
        )
        # A real upload gives the stored file; its own job is not what is measured.
        doc = anyio.run(
            self.services.uploads.receive, self.user, _one_file("bench.txt", b"checksum me\n")
        )
        self.services.tracking.cancel(self.user, doc["job_id"])
        self.file_id = doc["artifacts"][0]["file_id"]

    def close(self) -> None:
        self.services.ctx.db.dispose()

    def workers(self, n: int, concurrency: int) -> AbstractContextManager[None]:
        cmd = [
            *(sys.executable, "-m", "stagecoach.cli", "worker"),
            *("--concurrency", str(concurrency), "--pipelines", "bench.queue_bench:PIPELINES"),
        ]
        env = env_for(self.url, self.data, PYTHONPATH=str(ROOT))
        return worker_processes(cmd, n, self.log, self._live_workers, env=env, cwd=ROOT)

    def _live_workers(self) -> int:
        return len(self.services.queue.live_workers())

    def _new(self, conn: sa.Connection) -> str:
        new = NewJob([self.file_id], pipeline=PIPELINE, claimable=True)
        return str(self.services.tracking.create_job(self.user, new, conn)["job_id"])

    def enqueue(self) -> tuple[str, datetime]:
        with self.services.ctx.db.write() as conn:
            job_id = self._new(conn)
            self.services.ctx.announce_work(conn)
        return job_id, datetime.now(UTC)

    def enqueue_many(self, n: int) -> list[str]:
        with self.services.ctx.db.write() as conn:
            ids = [self._new(conn) for _ in range(n)]
            self.services.ctx.announce_work(conn)
        return ids

    def ended(self) -> int:
        with self.services.ctx.db.read() as conn:
            query = sa.select(sa.func.count()).where(artifacts.c.status.in_(ENDED))
            return int(conn.execute(query).scalar_one())

    def timings(self, ids: Sequence[str]) -> dict[str, Timing]:
        wanted = set(ids)
        cols = (artifacts.c.job_id, artifacts.c.status, artifacts.c.started_at)
        with self.services.ctx.db.read() as conn:
            rows = conn.execute(sa.select(*cols, artifacts.c.completed_at))
            return {
                r.job_id: Timing(r.started_at, r.completed_at, r.status not in ENDED_BADLY)
                for r in rows
                if r.job_id in wanted
            }


@contextmanager
def system(kind: str, work: Path) -> Iterator[BenchQueue]:
    with ExitStack() as stack:
        url, data = stack.enter_context(database("sqlite" if kind == "sqlite" else "postgres"))
        q: Any
        if kind == "procrastinate":
            from bench.queue_procrastinate import Procrastinate

            q = Procrastinate(url, work / "procrastinate-workers.log")
        else:
            q = Stagecoach(url, data, work / "stagecoach-workers.log")
        stack.callback(q.close)
        yield q


# --- throughput and claim latency ----------------------------------------------------------


@dataclass(frozen=True)
class Round:
    jobs_per_second: float
    span: float
    done: int
    jobs: int
    failed: int
    latency_ms: list[float]
    timed_out: bool

    def line(self) -> str:
        lat = self.latency_ms
        return (
            f"{self.jobs_per_second:7.1f} jobs/s ({self.done}/{self.jobs} in {self.span:.1f} s"
            f"{f', {self.failed} failed' if self.failed else ''}"
            f"{', TIMED OUT' if self.timed_out else ''})   claim p50 {pct(lat, 50):6.1f} ms"
            f"  p99 {pct(lat, 99):6.1f} ms (n={len(lat)})"
        )


def wait_ended(q: BenchQueue, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while q.ended() < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def one_round(q: BenchQueue, n_workers: int, sizes: Sizes) -> Round:
    with q.workers(n_workers, sizes.concurrency):
        # Warm-up: two jobs per slot, so the workers have claimed and started their stage
        # processes before anything is measured.
        expected = q.ended() + 2 * n_workers * sizes.concurrency
        q.enqueue_many(2 * n_workers * sizes.concurrency)
        wait_ended(q, expected, sizes.timeout)

        expected = q.ended() + sizes.jobs
        ids = q.enqueue_many(sizes.jobs)
        drained = wait_ended(q, expected, sizes.timeout)
        timings = q.timings(ids)
        rate, span = jobs_per_second(list(timings.values()))

        enqueued: dict[Any, datetime] = {}
        for _ in range(sizes.latency_jobs if drained else 0):  # to idle workers only
            job_id, at = q.enqueue()
            enqueued[job_id] = at
            time.sleep(sizes.latency_gap)
        wait_ended(q, expected + sizes.latency_jobs, sizes.timeout)
        latency = latencies_ms(enqueued, q.timings(list(enqueued)))
    return Round(
        jobs_per_second=rate,
        span=span,
        done=sum(1 for t in timings.values() if t.ok and t.ended),
        jobs=sizes.jobs,
        failed=sum(1 for t in timings.values() if not t.ok),
        latency_ms=latency,
        timed_out=not drained,
    )


def throughput_and_latency(sizes: Sizes, work: Path) -> dict[tuple[str, int], Round]:
    kinds = [k for k in sizes.systems if k == "sqlite" or pg_available()]
    for k in sorted(set(sizes.systems) - set(kinds)):
        print(f"  {k}: PostgreSQL not reachable, skipped")
    rounds: dict[tuple[str, int], Round] = {}
    for n in sizes.workers:
        for kind in kinds:
            with system(kind, work) as q:
                r = rounds[kind, n] = one_round(q, n, sizes)
            label = "procrastinate" if kind == "procrastinate" else f"stagecoach {kind}"
            print(f"  {label:<19} {n} worker(s): {r.line()}", flush=True)
    return rounds


def summary(rounds: Mapping[tuple[str, int], Round], sizes: Sizes) -> list[str]:
    def cell(kind: str, n: int, what: str) -> str:
        r = rounds.get((kind, n))
        if r is None:
            return "-"
        if what == "rate":
            return f"{r.jobs_per_second:.1f}"
        return f"{pct(r.latency_ms, 50):.1f} / {pct(r.latency_ms, 99):.1f}"

    lines = [
        "jobs/s        "
        + "".join(f"{k:>15}" for k in ("sqlite", "postgres", "procrastinate"))
        + "   postgres / procrastinate"
    ]
    for n in sizes.workers:
        pg, pr = rounds.get(("postgres", n)), rounds.get(("procrastinate", n))
        share = ratio(pg.jobs_per_second, pr.jobs_per_second) if pg and pr else math.nan
        lines.append(
            f"{n} worker(s)   "
            + "".join(f"{cell(k, n, 'rate'):>15}" for k in ("sqlite", "postgres", "procrastinate"))
            + f"   {share:.2f}"
        )
    lines.append(
        "claim ms      "
        + "".join(f"{k + ' p50/p99':>22}" for k in ("sqlite", "postgres", "procrastinate"))
    )
    for n in sizes.workers:
        lines.append(
            f"{n} worker(s)   "
            + "".join(f"{cell(k, n, 'lat'):>22}" for k in ("sqlite", "postgres", "procrastinate"))
        )
    return lines


# --- progress writes under poll load (SQLite) ----------------------------------------------

JOBS_PER_WRITER = 5
ANALYST, ANALYST_PASSWORD = "bench-analyst", "bench-analyst-password"


def _writer(
    url: str,
    data: str,
    job_ids: list[str],
    seconds: float,
    ready: Any,
    results: Any,
) -> None:
    """One writer process: progress reports on its jobs, as fast as they go, for ``seconds``."""
    settings = Settings(database_url=url, data_dir=Path(data), admin_password=ADMIN_PASSWORD)
    services = Services(ServiceContext.from_settings(settings))
    user = services.accounts.authenticate(ANALYST, ANALYST_PASSWORD)
    writes = errors = 0
    first_error = ""
    ready.wait()
    deadline = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < deadline:
        for job_id in job_ids:
            seq += 1
            report = Report(
                status=JobStatus.PROCESSING,
                current_stage="Working",
                duration_processed=float(seq),
                seq=seq,
            )
            try:
                services.tracking.report(user, job_id, report)
                writes += 1
            except Exception as exc:  # a busy database, say: counted, not fatal
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
    services.ctx.db.dispose()
    results.put((writes, errors, first_error))


def progress_under_polls(sizes: Sizes) -> list[str]:
    from bench.poll_bench import run_pollers

    with database("sqlite") as (url, data):
        settings = Settings(database_url=url, data_dir=data, admin_password=ADMIN_PASSWORD)
        services = Services(ServiceContext.from_settings(settings))
        migrate.upgrade(services.ctx.db.engine)
        user = services.accounts.create_user(ANALYST, ANALYST_PASSWORD, "analyst")
        outside = NewJob([], stages=["Working"], duration_total=1e9, unit="items")
        groups = [
            [
                str(services.tracking.create_job(user, outside)["job_id"])
                for _ in range(JOBS_PER_WRITER)
            ]
            for _ in range(sizes.writers)
        ]
        services.ctx.db.dispose()
        ids = [j for g in groups for j in g]
        seconds = max(1, round(sizes.write_seconds))
        with server(url, data, cpu=None) as base:
            tok = token(base, ANALYST, ANALYST_PASSWORD)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tok}"}) as c:
                for job_id in ids:  # warm-up: the server's first answers are slow
                    c.get(f"/api/v1/jobs/{job_id}/status").raise_for_status()
            alone = run_pollers(base, tok, ids, n=sizes.pollers, seconds=seconds)
            mp = multiprocessing.get_context("spawn")
            ready, results = mp.Barrier(sizes.writers + 1), mp.Queue()
            procs = [
                mp.Process(target=_writer, args=(url, str(data), g, seconds, ready, results))
                for g in groups
            ]
            for p in procs:
                p.start()
            try:
                ready.wait(timeout=120)
                loaded = run_pollers(base, tok, ids, n=sizes.pollers, seconds=seconds)
                counts = [results.get(timeout=seconds + 120) for _ in procs]
            finally:
                for p in procs:
                    p.join(30)
                    if p.is_alive():
                        p.kill()
    writes, errors = sum(c[0] for c in counts), sum(c[1] for c in counts)
    first_error = next((c[2] for c in counts if c[2]), "")
    return [
        f"{writes / seconds:,.0f} progress writes/s ({writes:,} in {seconds} s by "
        f"{sizes.writers} writer processes on {len(ids)} jobs"
        f"{f'; {errors} failed, the first with {first_error}' if errors else ''})",
        f"poll alone:        p50 {alone['p50']:6.1f} ms  p99 {alone['p99']:6.1f} ms  "
        f"({alone['requests']} requests, {alone['errors']} errors)",
        f"poll under writes: p50 {loaded['p50']:6.1f} ms  p99 {loaded['p99']:6.1f} ms  "
        f"({loaded['requests']} requests, {loaded['errors']} errors)",
    ]


def main() -> None:
    import tempfile

    sizes = Sizes.from_env(os.environ)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (figures scale with both)")
    print(
        f"throughput ({sizes.jobs} jobs at once) and claim latency ({sizes.latency_jobs} jobs, "
        f"one every {sizes.latency_gap * 1000:.0f} ms, idle workers); worker processes of "
        f"concurrency {sizes.concurrency}:",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="sc-queue-bench-") as d:
        rounds = throughput_and_latency(sizes, Path(d))
    for line in summary(rounds, sizes):
        print(f"  {line}")
    print(
        f"progress writes to one SQLite database while {sizes.pollers} pollers ask for the "
        "status (a real server):",
        flush=True,
    )
    for line in progress_under_polls(sizes):
        print(f"  {line}", flush=True)


if __name__ == "__main__":
    main()

"""Queue benchmark: jobs per second through the queue (a trivial pipeline) with 1, 2 and 4
worker processes on SQLite and PostgreSQL; claim latency from enqueue to start (p50/p99);
progress reports per second one worker absorbs.

Workers are real `stagecoach worker` processes (concurrency 2 each) over a fresh database.
Figures depend on the machine and its load; they are printed, never asserted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from stagecoach.domain.records import User
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.services.tracking import NewJob
from stagecoach.settings import Settings
from stagecoach.store import files as files_store
from stagecoach.store import migrate
from stagecoach.store.db import make_engine
from stagecoach.store.tables import jobs

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "STAGECOACH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
JOBS = int(os.environ.get("QUEUE_BENCH_JOBS", "80"))
REPORTS = int(os.environ.get("QUEUE_BENCH_REPORTS", "500000"))


# --- the pipelines (module-level: worker children import them by name) -----------------
def one(a: ArtifactInput) -> float:
    return 1.0


def trivial(a: ArtifactInput, r: Reporter) -> None:
    r.progress(1)


def many_reports(a: ArtifactInput, r: Reporter) -> None:
    n = int(os.environ.get("QUEUE_BENCH_REPORTS", str(REPORTS)))
    for i in range(n):
        r.progress(i + 1)


PIPELINES = {
    "trivial": Pipeline("trivial", ("other",), (Stage("Working", "items", trivial, one),)),
    "reports": Pipeline("reports", ("other",), (Stage("Reporting", "reports", many_reports, one),)),
}


# --- set-up ----------------------------------------------------------------------------
def fresh_db(kind: str, tmp: Path) -> str | None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        try:
            admin = sa.create_engine(
                PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
            )
            name = f"sc_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
        except Exception as exc:
            print(f"  PostgreSQL not reachable, skipped: {type(exc).__name__}")
            return None
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    eng = make_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    return url


def drop_db(url: str) -> None:
    if url.startswith("postgresql"):
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')
        admin.dispose()


class Bench:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.settings = Settings(
            data_dir=data_dir,
            database_url=url,
            admin_password="bench-admin-password",
            progress_write_interval=1.0,
        )
        self.services = Services(ServiceContext.from_settings(self.settings))
        self.user: User = self.services.accounts.create_user(
            f"bench{uuid.uuid4().hex[:6]}", "bench-password", "analyst"
        )
        content = b"bench"
        self.file_id = str(uuid.uuid4())
        key = f"uploads/{self.file_id}"
        with self.services.storage.open_write(key) as f:
            f.write(content)
        with self.services.ctx.db.write() as conn:
            files_store.insert_file(
                conn,
                file_id=self.file_id,
                owner_id=self.user.user_id,
                original_name="b.txt",
                stored_path=key,
                type="other",
                mime="text/plain",
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                upload_time=datetime.now(UTC),
                status="stored",
            )

    def enqueue(self, pipeline: str = "trivial") -> str:
        doc = self.services.tracking.create_job(
            self.user, NewJob([self.file_id], pipeline=pipeline, claimable=True)
        )
        return str(doc["job_id"])

    def enqueue_many(self, n: int) -> None:
        """``n`` jobs in one transaction: they become claimable at the same moment."""
        with self.services.ctx.db.write() as conn:
            for _ in range(n):
                self.services.tracking.create_job(
                    self.user, NewJob([self.file_id], pipeline="trivial", claimable=True), conn
                )

    def rows(self) -> list[sa.Row]:
        with self.services.ctx.db.read() as conn:
            cols = (
                jobs.c.job_id,
                jobs.c.status,
                jobs.c.created_at,
                jobs.c.started_at,
                jobs.c.finished_at,
            )
            return list(conn.execute(sa.select(*cols)))

    def start_workers(self, n: int, log: Path) -> list[subprocess.Popen]:
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            STAGECOACH_DATA_DIR=str(self.settings.data_dir),
            STAGECOACH_DATABASE_URL=self.settings.db_url,
            STAGECOACH_LOG_LEVEL="WARNING",
        )
        exe = Path(sys.executable).parent / "stagecoach"
        out = log.open("ab")
        return [
            subprocess.Popen(
                [
                    str(exe),
                    "worker",
                    "--concurrency",
                    "2",
                    "--pipelines",
                    "bench.queue_bench:PIPELINES",
                ],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(n)
        ]

    def wait_all_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.status in ("completed", "failed") for r in self.rows()):
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self.services.ctx.db.dispose()


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


# --- measurements ----------------------------------------------------------------------
def throughput(kind: str, n_workers: int, tmp: Path) -> str:
    url = fresh_db(kind, tmp)
    if url is None:
        return "skipped"
    bench = Bench(url, tmp / f"data-{kind}-{n_workers}")
    procs: list[subprocess.Popen] = []
    try:
        # Warm up: every worker started, its stage processes running; then measure.
        procs = bench.start_workers(n_workers, tmp / "workers.log")
        for _ in range(4 * n_workers):
            bench.enqueue()
        bench.wait_all_done(300)
        warm = {r.job_id for r in bench.rows()}
        bench.enqueue_many(JOBS)
        ok = bench.wait_all_done(300)
        rows = [r for r in bench.rows() if r.job_id not in warm]
        started = min(r.started_at for r in rows if r.started_at)
        finished = max(r.finished_at for r in rows if r.finished_at)
        span = (finished - started).total_seconds()
        done = sum(1 for r in rows if r.status == "completed")
        return (
            f"{done / span:6.1f} jobs/s  ({done}/{JOBS} jobs in {span:.1f} s"
            f"{'' if ok else ', TIMED OUT'})"
        )
    finally:
        stop(procs)
        bench.close()
        drop_db(url)


def claim_latency(kind: str, tmp: Path, n: int = 40, gap: float = 0.15) -> str:
    url = fresh_db(kind, tmp)
    if url is None:
        return "skipped"
    bench = Bench(url, tmp / f"data-lat-{kind}")
    procs = bench.start_workers(1, tmp / "workers.log")
    try:
        warm = bench.enqueue()  # wait until the worker is up and has run one job
        while not any(r.status == "completed" for r in bench.rows()):
            time.sleep(0.1)
        for _ in range(n):
            bench.enqueue()
            time.sleep(gap)
        bench.wait_all_done(120)
        lat = [
            (r.started_at - r.created_at).total_seconds() * 1000
            for r in bench.rows()
            if r.started_at and r.job_id != warm  # the warm-up job waited for start-up
        ]
        return f"p50 {pct(lat, 0.5):6.0f} ms   p99 {pct(lat, 0.99):6.0f} ms   (n={len(lat)})"
    finally:
        stop(procs)
        bench.close()
        drop_db(url)


def progress_absorption(tmp: Path) -> str:
    from stagecoach.store import jobs as jobs_store
    from stagecoach.worker.worker import Worker

    url = fresh_db("sqlite", tmp)
    assert url is not None
    bench = Bench(url, tmp / "data-progress")
    worker = Worker(
        bench.services.ctx, bench.services.storage, PIPELINES, concurrency=1, poll_interval=0.05
    )
    worker.start()
    try:
        job_id = bench.enqueue("reports")
        while not bench.wait_all_done(0.5):
            pass
        with bench.services.ctx.db.read() as conn:
            art = jobs_store.job_artifacts(conn, job_id)[0]
            writes = conn.execute(
                sa.text("SELECT count(*) FROM job_events WHERE job_id = :j"), {"j": job_id}
            ).scalar_one()
        seconds = art.processing_stages["Reporting"]
        return (
            f"{REPORTS / seconds:,.0f} reporter calls/s through the child pipe and relay "
            f"({REPORTS:,} calls in {seconds:.2f} s, {worker.progress_calls:,} relayed; "
            f"{writes} database writes for the job)"
        )
    finally:
        worker.stop()
        bench.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stagecoach-bench-") as d:
        tmp = Path(d)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} cores, load average {load} (figures scale with both)")
        print(f"queue throughput, trivial pipeline, {JOBS} jobs, workers of concurrency 2:")
        for kind in ("sqlite", "postgres"):
            for n in (1, 2, 4):
                print(f"  {kind:8} {n} worker(s): {throughput(kind, n, tmp)}", flush=True)
        print("claim latency, enqueue -> start, one idle worker, a job every 150 ms:")
        for kind in ("sqlite", "postgres"):
            print(f"  {kind:8} {claim_latency(kind, tmp)}", flush=True)
        print("progress absorption, one worker, one job (SQLite):")
        print(f"  {progress_absorption(tmp)}", flush=True)


if __name__ == "__main__":
    main()

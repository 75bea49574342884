"""The status poll: GET /api/v1/jobs/{id}/status with a bearer token, random ids among
10,000 jobs, on SQLite and PostgreSQL, beside Celery + Flower's GET /api/task/info/{id} in the
same run. Each server runs on core 0, the load on core 1.

Cases (BENCH_POLL_CASES, comma-separated; all by default):

- ``bare``: pending and running jobs with no files and no estimate;
- ``real``: jobs of five files each, in varied states, running ones with a live estimate
  (``estimated_completion``, ETA band, per-file progress);
- ``worker``: ``real`` with the embedded worker on, transcribing a 3-minute recording
  (uploaded through the API, re-uploaded whenever the last one finishes) on the server's
  core the whole time.

For each case: a warm-up that polls every job once (its rate is printed: the first polls);
closed loop (wrk) with 100 and 1,000 connections: requests/s, p50, p99; and, once the
server has worked off what wrk left queued, 1,000 browser-like pollers, each asking every
2-5 s: p50, p99. Flower is measured once per
run with wrk at 100 connections (its task info has no progress in it), and each stagecoach
c100 line prints its ratio to Flower's requests/s.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.common import database, free_port, pct, pg_available, server, stop_processes, token

JOBS = int(os.environ.get("BENCH_POLL_JOBS", "10000"))
DURATION = int(os.environ.get("BENCH_POLL_SECONDS", "15"))
POLLERS = int(os.environ.get("BENCH_POLL_POLLERS", "1000"))
POLLER_SECONDS = int(os.environ.get("BENCH_POLL_POLLER_SECONDS", "40"))
CASES = os.environ.get("BENCH_POLL_CASES", "bare,real,worker").split(",")
RECORDING_MINUTES = float(os.environ.get("BENCH_POLL_RECORDING_MINUTES", "3"))
FILES_PER_JOB = 5

WRK_SCRIPT = """
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local auth = "Bearer " .. os.getenv("TOKEN")
local before, after = os.getenv("PATH_BEFORE"), os.getenv("PATH_AFTER")
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", before .. id .. after, {["Authorization"] = auth})
end
"""
STAGECOACH_PATH = ("/api/v1/jobs/", "/status")
FLOWER_PATH = ("/api/task/info/", "")


def seed(url: str, data: Path, case: str = "bare") -> tuple[list[str], str]:
    """10,000 jobs owned by one analyst, in varied states; returns ids and the analyst's name.
    ``real``: each job has five files (one running in a running job) and a live estimate."""
    from datetime import timedelta

    from stagecoach.domain.records import Artifact, Job
    from stagecoach.domain.status import JobStatus
    from stagecoach.services.context import ServiceContext
    from stagecoach.services.registry import Services
    from stagecoach.settings import Settings
    from stagecoach.store import jobs as store
    from stagecoach.store import migrate

    settings = Settings(
        database_url=url, data_dir=data, admin_password="x" * 12, secret_key="bench-secret-key"
    )
    services = Services(ServiceContext.from_settings(settings))
    migrate.upgrade(services.ctx.db.engine)
    services.accounts.ensure_admin()
    analyst = services.accounts.create_user("poller", "poller-password", "analyst")
    now = services.ctx.clock()
    ids = []
    statuses = [JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED]
    with services.ctx.db.write() as conn:
        for i in range(JOBS):
            st = statuses[i % 4]
            job = Job(
                job_id=str(uuid.uuid4()),
                owner_id=analyst.user_id,
                status=st,
                created_at=now,
                updated_at=now,
                pipeline="audio",
                stages=["Uploading", "Decoding", "Transcribing", "Analyzing"],
                current_stage="Transcribing",
                progress=float(i % 100),
                duration_total=600.0,
                unit="audio_seconds",
                started_at=now if st is not JobStatus.PENDING else None,
                last_progress_at=now,
            )
            if case != "bare" and st in (JobStatus.PENDING, JobStatus.PROCESSING):
                job = job.evolve(
                    estimated_completion=now + timedelta(seconds=300),
                    eta_low=now + timedelta(seconds=240),
                    eta_high=now + timedelta(seconds=420),
                )
            store.insert_job(conn, job)
            if case != "bare":
                for n in range(FILES_PER_JOB):
                    fst = (
                        st
                        if st is not JobStatus.PROCESSING
                        else (JobStatus.COMPLETED if n < 2 else st if n == 2 else JobStatus.PENDING)
                    )
                    store.insert_artifact(
                        conn,
                        Artifact(
                            artifact_id=str(uuid.uuid4()),
                            job_id=job.job_id,
                            position=n,
                            filename=f"recording-{n}.wav",
                            file_type="audio",
                            status=fst,
                            pipeline="audio",
                            stages=job.stages,
                            current_stage="Transcribing",
                            progress=100.0 if fst is JobStatus.COMPLETED else float(i % 100),
                            processing_stages={"Decoding": 1.5, "Transcribing": 42.0},
                            started_at=now if fst is not JobStatus.PENDING else None,
                            completed_at=now if fst is JobStatus.COMPLETED else None,
                            last_progress_at=now,
                        ),
                    )
            ids.append(job.job_id)
    services.ctx.db.dispose()
    return ids, "poller"


def run_wrk(
    base: str,
    tok: str,
    ids_file: Path,
    connections: int,
    path: tuple[str, str] = STAGECOACH_PATH,
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    env = dict(os.environ, IDS_FILE=str(ids_file), TOKEN=tok)
    env.update(PATH_BEFORE=path[0], PATH_AFTER=path[1])
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{DURATION}s",
            "--latency",
            "-s",
            f.name,
            base,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": sock.group(1) if sock else "none",
    }  # type: ignore[dict-item]


async def _poller(
    host: str,
    port: int,
    tok: str,
    ids: list[str],
    until: float,
    lat: list[float],
    errors: list[int],
) -> None:
    await asyncio.sleep(random.uniform(0, 5))
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.perf_counter() < until:
        jid = random.choice(ids)
        req = (
            f"GET /api/v1/jobs/{jid}/status HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {tok}\r\n\r\n"
        ).encode()
        t0 = time.perf_counter()
        try:
            if conn is None:  # like a browser: (re)connect when the server closed an idle one
                conn = await asyncio.open_connection(host, port)
            reader, writer = conn
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            conn = None
            errors.append(1)
            continue
        lat.append((time.perf_counter() - t0) * 1000)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
        await asyncio.sleep(random.uniform(2, 5))
    if conn is not None:
        conn[1].close()


def run_pollers(
    base: str, tok: str, ids: list[str], n: int = POLLERS, seconds: int = POLLER_SECONDS
) -> dict:
    host, port = base.removeprefix("http://").split(":")
    lat: list[float] = []
    errors: list[int] = []

    async def go() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *[_poller(host, int(port), tok, ids, until, lat, errors) for _ in range(n)]
        )

    asyncio.run(go())
    return {"requests": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99), "errors": len(errors)}


def warm_up(base: str, tok: str, ids: list[str], conns: int = 50) -> float:
    """Poll every job once, ``conns`` at a time; the polls per second. A server that has
    been up has polled its pollers' jobs before (they ask about the same jobs every few
    seconds), so the closed-loop runs that follow measure that, not each job's first poll;
    the first polls' own rate is this figure."""

    async def go() -> None:
        todo = iter(ids)
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {tok}"}, timeout=60
        ) as c:

            async def one() -> None:
                for jid in todo:
                    (await c.get(f"/api/v1/jobs/{jid}/status")).raise_for_status()

            await asyncio.gather(*[one() for _ in range(conns)])

    t0 = time.perf_counter()
    asyncio.run(go())
    return len(ids) / (time.perf_counter() - t0)


def settle(base: str, tok: str, ids: list[str], seconds: float = 60.0) -> None:
    """Wait until the server has worked off what the closed-loop runs left queued: wrk
    stops with hundreds of requests still in the server, and the tabs that came next
    measured that backlog (p99 of 250 to 700 ms on real jobs), not the tabs."""
    deadline = time.monotonic() + seconds
    quick = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tok}"}) as c:
        while quick < 5 and time.monotonic() < deadline:
            t0 = time.perf_counter()
            c.get(f"/api/v1/jobs/{random.choice(ids)}/status")
            quick = quick + 1 if time.perf_counter() - t0 < 0.02 else 0
            time.sleep(0.1)


def pollers_main() -> None:
    """Entry for the browser-like pollers when run on core 1 as a child process."""
    base, tok, ids_file = sys.argv[1:4]
    ids = Path(ids_file).read_text().split()
    r = run_pollers(base, tok, ids)
    print(f"{r['requests']} {r['p50']:.2f} {r['p99']:.2f} {r['errors']}")


FLOWER_APP = """
from celery import Celery

app = Celery("bench", broker="{broker}", backend="{broker}")
app.conf.worker_send_task_events = True
app.conf.task_send_sent_event = True


@app.task
def noop(i):
    return i
"""


@contextmanager
def flower(tasks: int) -> Iterator[tuple[str, Path]]:
    """Celery with Redis (127.0.0.1:6379, db 15, flushed), a worker sending events, and Flower
    on core 0 watching them; ``tasks`` tasks run to completion. Yields Flower's base URL and
    a file of the task ids."""
    broker = os.environ.get("BENCH_FLOWER_BROKER", "redis://127.0.0.1:6379/15")
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        (here / "flower_bench_app.py").write_text(FLOWER_APP.format(broker=broker))
        # Flower 2 serves its API only with auth configured, or with this set (loopback only)
        env = dict(
            os.environ,
            FLOWER_UNAUTHENTICATED_API="true",
            PYTHONPATH=f"{here}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        )
        celery = [sys.executable, "-m", "celery", "-A", "flower_bench_app"]
        import redis

        redis.Redis.from_url(broker).flushdb()
        port = free_port()
        procs = [
            subprocess.Popen(
                ["taskset", "-c", "0", *celery, "flower", f"--port={port}", "--address=127.0.0.1"],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                ["taskset", "-c", "1", *celery, "worker", "-E", "--pool=solo", "-l", "WARNING"],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http(f"{base}/healthcheck")
            sys.path.insert(0, tmp)
            try:
                import flower_bench_app  # type: ignore[import-not-found]
            finally:
                sys.path.remove(tmp)
            ids = [flower_bench_app.noop.delay(i).id for i in range(tasks)]
            deadline = time.time() + 120
            while time.time() < deadline:  # until Flower has seen every task succeed
                seen = httpx.get(f"{base}/api/tasks", params={"state": "SUCCESS"}, timeout=30)
                if len(seen.json()) >= tasks:
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError("Flower did not see every task finish in 120 s")
            ids_file = here / "ids.txt"
            ids_file.write_text("\n".join(ids))
            yield base, ids_file
        finally:
            stop_processes(procs)


class Transcriptions:
    """Keeps the embedded worker transcribing: uploads a recording through the API and
    uploads it again whenever the last one has ended, until stopped. The seeded jobs are
    not claimable, so the worker runs only these."""

    def __init__(self, base: str, tok: str, recording: Path) -> None:
        self.base, self.tok, self.recording = base, tok, recording
        self.done: list[dict] = []
        self.busy_checks = self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Transcriptions:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        from stagecoach.client import Client

        with Client(self.base, self.tok) as c:
            job = c.upload([self.recording], pipeline="audio")["job_id"]
            while not self._stop.wait(0.5):
                doc = c.status(job)
                self.checks += 1
                if doc["status"] == "processing":
                    self.busy_checks += 1
                if doc["status"] in ("completed", "failed", "cancelled"):
                    self.done.append(doc)
                    job = c.upload([self.recording], pipeline="audio")["job_id"]

    def wait_until_transcribing(self, seconds: float = 120) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline and self.busy_checks == 0:
            time.sleep(0.2)
        if self.busy_checks == 0:
            raise RuntimeError("the worker never started transcribing")

    def summary(self) -> str:
        ok = sum(d["status"] == "completed" for d in self.done)
        share = self.busy_checks / max(1, self.checks)
        why = {
            str((d.get("error") or {}).get("title"))
            for d in self.done
            if d["status"] != "completed"
        }
        return f"transcribing {share:.0%} of the time, {ok}/{len(self.done)} recordings done" + (
            f" (others: {', '.join(sorted(why))})" if why else ""
        )


def _recording(work: Path) -> Path:
    from bench.pipelines_bench import recording

    return recording(work, "poll", RECORDING_MINUTES)


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def _line(kind: str, load: str, r: dict, notes: str) -> None:
    print(
        f"{kind:<9} {load:<34} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}  {notes}",
        flush=True,
    )


def main() -> None:
    kinds = ["sqlite"] + (["postgres"] if pg_available() else [])
    if os.environ.get("BENCH_POLL_DB"):  # one of them only: sqlite or postgres
        kinds = [k for k in kinds if k == os.environ["BENCH_POLL_DB"]]
    print(
        f"status poll, {JOBS} jobs, {DURATION} s per closed-loop run; server on core 0, "
        f"load on core 1"
    )
    print(f"{'db':<9} {'load':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  notes")
    with flower(min(JOBS, int(os.environ.get("BENCH_FLOWER_TASKS", "10000")))) as (fbase, fids):
        fl = run_wrk(fbase, "none", fids, 100, FLOWER_PATH)
    _line("flower", "task info, closed loop, 100 conns", fl, f"non-2xx={fl['non2xx']:.0f}")
    for case in CASES:
        for kind in kinds:
            with database(kind) as (url, data):
                ids, user = seed(url, data, case)
                ids_file = data / "ids.txt"
                ids_file.write_text("\n".join(ids))
                busy = case == "worker"
                with server(url, data, cpu=0, worker=busy) as base, ExitStack() as stack:
                    tok = token(base, user, "poller-password")
                    if busy:
                        t = stack.enter_context(Transcriptions(base, tok, _recording(data)))
                        t.wait_until_transcribing()
                    w = warm_up(base, tok, ids)
                    print(
                        f"{kind:<9} {f'{case}, warm-up: each job polled once':<34} {w:>8.0f}",
                        flush=True,
                    )
                    for conns in (100, 1000):
                        r = run_wrk(base, tok, ids_file, conns)
                        ratio = (
                            f" ratio to flower {r['rps'] / fl['rps']:.2f}x" if conns == 100 else ""
                        )
                        _line(
                            kind,
                            f"{case}, closed loop, {conns} conns",
                            r,
                            f"non-2xx={r['non2xx']:.0f} socket errors: {r['socket_errors']}{ratio}",
                        )
                    settle(base, tok, ids)
                    out = subprocess.run(
                        [
                            "taskset",
                            "-c",
                            "1",
                            sys.executable,
                            "-c",
                            "from bench.poll_bench import pollers_main; pollers_main()",
                            base,
                            tok,
                            str(ids_file),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout.split()
                    n, p50, p99, errs = out
                    rate = int(n) / POLLER_SECONDS
                    print(
                        f"{kind:<9} {f'{case}, {POLLERS} pollers every 2-5 s':<34} {rate:>8.0f} "
                        f"{float(p50):>8.2f} {float(p99):>8.2f}  errors={errs}",
                        flush=True,
                    )
                    if busy:
                        print(f"{kind:<9} worker: {t.summary()}", flush=True)


if __name__ == "__main__":
    main()

"""The status poll: GET /api/v1/jobs/{id}/status with a bearer token, random ids among 10,000
jobs, on SQLite and PostgreSQL. The server runs on core 0, the load on core 1.

- closed loop (wrk) with 100 and 1,000 connections: requests/s, p50, p99;
- 1,000 browser-like pollers, each asking every 2-5 s: p50, p99.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import database, pct, pg_available, server, token

JOBS = int(os.environ.get("BENCH_POLL_JOBS", "10000"))
DURATION = int(os.environ.get("BENCH_POLL_SECONDS", "15"))

WRK_SCRIPT = """
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local auth = "Bearer " .. os.getenv("TOKEN")
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/jobs/" .. id .. "/status", {["Authorization"] = auth})
end
"""


def seed(url: str, data: Path) -> tuple[list[str], str]:
    """10,000 jobs owned by one analyst, in varied states; returns ids and the analyst's name."""
    from stagecoach.domain.records import Job
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
            store.insert_job(conn, job)
            ids.append(job.job_id)
    services.ctx.db.dispose()
    return ids, "poller"


def run_wrk(base: str, tok: str, ids_file: Path, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    env = dict(os.environ, IDS_FILE=str(ids_file), TOKEN=tok)
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


def run_pollers(base: str, tok: str, ids: list[str], n: int = 1000, seconds: int = 40) -> dict:
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


def pollers_main() -> None:
    """Entry for the browser-like pollers when run on core 1 as a child process."""
    base, tok, ids_file = sys.argv[1:4]
    ids = Path(ids_file).read_text().split()
    r = run_pollers(base, tok, ids)
    print(f"{r['requests']} {r['p50']:.2f} {r['p99']:.2f} {r['errors']}")


def main() -> None:
    kinds = ["sqlite"] + (["postgres"] if pg_available() else [])
    if os.environ.get("BENCH_POLL_DB"):  # one of them only: sqlite or postgres
        kinds = [k for k in kinds if k == os.environ["BENCH_POLL_DB"]]
    print(
        f"status poll, {JOBS} jobs, {DURATION} s per closed-loop run; server on core 0, "
        f"load on core 1"
    )
    print(f"{'db':<9} {'load':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  notes")
    for kind in kinds:
        with database(kind) as (url, data):
            ids, user = seed(url, data)
            ids_file = data / "ids.txt"
            ids_file.write_text("\n".join(ids))
            with server(url, data, cpu=0) as base:
                tok = token(base, user, "poller-password")
                for conns in (100, 1000):
                    r = run_wrk(base, tok, ids_file, conns)
                    print(
                        f"{kind:<9} {f'closed loop, {conns} conns':<26} {r['rps']:>8.0f} "
                        f"{r['p50']:>8.2f} {r['p99']:>8.2f}  non-2xx={r['non2xx']:.0f} "
                        f"socket errors: {r['socket_errors']}",
                        flush=True,
                    )
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
                rate = int(n) / 40
                print(
                    f"{kind:<9} {'1,000 pollers every 2-5 s':<26} {rate:>8.0f} {float(p50):>8.2f} "
                    f"{float(p99):>8.2f}  errors={errs}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""SSE fan-out: many connected clients watching jobs; time from a progress change to arrival.

Starts a real `stagecoach serve --no-worker` in a subprocess (a fresh SQLite database, then a
fresh PostgreSQL one when the server answers, unless --database-url is given), connects
``--clients`` raw-socket SSE clients -- half on /api/v1/events (every job), half on
/api/v1/jobs/{id}/events spread over the jobs --
then PATCHes one job's progress per round and records, at every client that should see it,
the time from sending the PATCH to the event's arrival. Prints p50, p99 and max.

    python -m bench.sse_bench [--clients 1000] [--jobs 20] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.common import ADMIN_PASSWORD, database, pg_available, server

PASSWORD = "bench-password-1"


class Client:
    """One SSE connection over a raw socket; notes when each (job, progress) arrives."""

    def __init__(
        self, port: int, path: str, token: str, arrivals: dict[tuple[str, float], list[float]]
    ) -> None:
        self.port, self.path, self.token, self.arrivals = port, path, token, arrivals
        self.connected = asyncio.Event()
        self.events = 0

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**20)
        writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"retry:"):
                    self.connected.set()
                # chunked transfer: payload lines arrive between chunk-size lines
                if line.startswith(b"data: "):
                    now = time.perf_counter()
                    doc = json.loads(line[6:])
                    self.events += 1
                    self.arrivals[(doc["job_id"], float(doc["progress"]))].append(now)
        finally:
            writer.close()


async def bench(
    clients: int,
    jobs: int,
    rounds: int,
    database_url: str | None,
    cross: bool,
    kind: str = "sqlite",
) -> dict:
    """``cross``: the PATCHes go to a second server process over the same database, as when
    a worker or another API process makes the change."""
    with contextlib.ExitStack() as stack:
        if database_url:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sse-bench-")))
            url = database_url
        else:
            url, data = stack.enter_context(database(kind))
        base = stack.enter_context(server(url, data, cpu=None))
        writer = stack.enter_context(server(url, data, cpu=None)) if cross else base
        port = int(base.rsplit(":", 1)[1])
        result = await _measure(base, writer, port, clients, jobs, rounds)
        result["writer"] = "another process" if cross else "the same process"
        return result


async def _measure(
    base: str, writer: str, port: int, n_clients: int, n_jobs: int, rounds: int
) -> dict:
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        httpx.AsyncClient(base_url=writer, timeout=30) as writer_http,
    ):
        admin = (
            await http.post(
                "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
            )
        ).json()
        ah = {"Authorization": f"Bearer {admin['access_token']}"}
        name = f"bench{random.randrange(10**6)}"
        r = await http.post(
            "/api/v1/users",
            headers=ah,
            json={"username": name, "password": PASSWORD, "role": "analyst"},
        )
        r.raise_for_status()
        token = (
            await http.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
        ).json()
        token = token["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        job_ids = []
        for _ in range(n_jobs):
            job = (await http.post("/api/v1/jobs", headers=h, json={"stages": ["Work"]})).json()
            await http.patch(
                f"/api/v1/jobs/{job['job_id']}",
                headers=h,
                json={"status": "processing", "progress": 0.5},
            )
            job_ids.append(job["job_id"])

        arrivals: dict[tuple[str, float], list[float]] = defaultdict(list)
        watchers: dict[str, int] = defaultdict(int)
        clients = []
        n_all = n_clients // 2
        for i in range(n_clients):
            if i < n_all:
                path = "/api/v1/events"
            else:
                job_id = job_ids[i % n_jobs]
                watchers[job_id] += 1
                path = f"/api/v1/jobs/{job_id}/events"
            clients.append(Client(port, path, token, arrivals))
        t_connect = time.perf_counter()
        tasks = []
        for i, c in enumerate(clients):
            tasks.append(asyncio.create_task(c.run()))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not flood the listen backlog
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 120)
        connect_s = time.perf_counter() - t_connect
        await asyncio.sleep(1.0)

        latencies: list[float] = []
        missed = 0
        for rnd in range(rounds):
            job_id = job_ids[rnd % n_jobs]
            value = float(rnd + 1)
            expected = n_all + watchers[job_id]
            t0 = time.perf_counter()
            r = await writer_http.patch(
                f"/api/v1/jobs/{job_id}", headers=h, json={"progress": value}
            )
            r.raise_for_status()
            t_patched = time.perf_counter()
            deadline = time.perf_counter() + 5
            while len(arrivals[(job_id, value)]) < expected and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            got = arrivals[(job_id, value)]
            if os.environ.get("SSE_BENCH_DEBUG"):
                print(
                    f"round {rnd}: patch {1000 * (t_patched - t0):.0f} ms, first "
                    f"{1000 * (min(got) - t0):.0f} ms, last {1000 * (max(got) - t0):.0f} ms"
                )
            latencies.extend(t - t0 for t in got)
            missed += max(0, expected - len(got))
            await asyncio.sleep(random.uniform(0.2, 0.5))  # sample every phase of the poll tick
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        health = (await http.get("/healthz")).json()

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "database": health.get("database"),
        "clients": n_clients,
        "jobs": n_jobs,
        "rounds": rounds,
        "deliveries": len(latencies),
        "missed": missed,
        "connect_seconds": round(connect_s, 2),
        "p50_ms": round(pct(50), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of an empty (or migrated) database; default: a fresh SQLite "
        "one, then a fresh PostgreSQL one when the server answers (see --databases).",
    )
    ap.add_argument(
        "--databases",
        default="sqlite,postgres",
        help="Without --database-url: the kinds of fresh database to run on, in turn.",
    )
    ap.add_argument(
        "--writer",
        choices=["same", "other", "both"],
        default="both",
        help="Which process takes the PATCHes: the one serving the streams, "
        "another one over the same database, or both runs.",
    )
    # `python -m bench sse` passes its own words along; ignore what is not ours
    args, _ = ap.parse_known_args(argv)
    results = []
    kinds = [k for k in args.databases.split(",") if k != "postgres" or pg_available()]
    runs = [
        (kind, cross)
        for kind in ([None] if args.database_url else kinds)
        for cross in {"same": [False], "other": [True], "both": [False, True]}[args.writer]
    ]
    for kind, cross in runs:
        result = asyncio.run(
            bench(
                args.clients,
                args.jobs,
                min(args.rounds, 99),
                args.database_url,
                cross,
                kind or "sqlite",
            )
        )
        print(
            f"SSE fan-out over {result['database']}: {result['clients']} clients, "
            f"{result['jobs']} jobs, {result['rounds']} progress changes "
            f"made in {result['writer']}"
        )
        print(
            f"  deliveries {result['deliveries']}, missed {result['missed']}, "
            f"all connected in {result['connect_seconds']} s"
        )
        print(
            f"  change -> client latency: p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms, "
            f"mean {result['mean_ms']} ms"
        )
        results.append(result)
    return {"runs": results}


if __name__ == "__main__":
    main()

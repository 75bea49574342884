"""Shared by the benchmarks: a real server in a subprocess, pinned to a core, and databases."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa

PG_ADMIN = os.environ.get(
    "STAGECOACH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_PASSWORD = "bench-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_available() -> bool:
    try:
        e = sa.create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
        with e.connect():
            pass
        e.dispose()
        return True
    except Exception:
        return False


@contextmanager
def database(kind: str) -> Iterator[tuple[str, Path]]:
    """A fresh database URL of the given kind and a data directory; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        data = Path(tmp)
        if kind == "sqlite":
            yield f"sqlite:///{data / 'bench.db'}", data
            return
        name = f"sc_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name, data
        finally:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def env_for(url: str, data: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STAGECOACH_DATABASE_URL=url,
        STAGECOACH_DATA_DIR=str(data),
        STAGECOACH_ADMIN_PASSWORD=ADMIN_PASSWORD,
        STAGECOACH_SECRET_KEY="bench-secret-key",
        STAGECOACH_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@contextmanager
def server(
    url: str,
    data: Path,
    *,
    cpu: int | None = 0,
    worker: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """`stagecoach serve` in a subprocess (pinned to `cpu`); yields its base URL."""
    with server_process(url, data, cpu=cpu, worker=worker, extra_env=extra_env) as (base, _):
        yield base


@contextmanager
def server_process(
    url: str,
    data: Path,
    *,
    cpu: int | None = 0,
    worker: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As ``server``, yielding the process too (to watch its memory)."""
    port = free_port()
    cmd = [sys.executable, "-m", "stagecoach.cli", "serve", "--port", str(port)]
    if not worker:
        cmd.append("--no-worker")
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    # Its log goes to a file: a pipe nobody reads would stall a long run once it filled.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd,
            env=env_for(url, data, **(extra_env or {})),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("server did not start in 60 s")
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """SIGTERM to each, then wait for all (SIGKILL whoever outlives ``grace``)."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextmanager
def worker_processes(
    cmd: list[str],
    n: int,
    log: Path,
    registered: Callable[[], int],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[None]:
    """``n`` processes of ``cmd``, their output appended to ``log``; yields once
    ``registered()`` counts ``n`` of them, stops them afterwards."""
    with log.open("ab") as out:
        procs = [
            subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
            for _ in range(n)
        ]
        try:
            deadline = time.monotonic() + 120
            while registered() < n:
                if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                    tail = log.read_bytes()[-2000:].decode(errors="replace")
                    raise RuntimeError(f"{n} x {' '.join(cmd[:4])} did not all start:\n{tail}")
                time.sleep(0.1)
            yield
        finally:
            stop_processes(procs)


def token(base: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``: the nearest rank, no interpolation."""
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

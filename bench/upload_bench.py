"""Upload throughput for 1 MB, 100 MB and 1 GiB files against a real server subprocess, and
the server's memory during the 1 GiB upload (flat when uploads stream).

The server is `stagecoach serve --no-worker` over SQLite in a temporary data directory; the
files are WAV (a real header, silent samples) generated while they are sent, so the client
holds no file in memory either. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

MB = 10**6
GiB = 2**30
CHUNK = 1 << 20
SIZES = [("1 MB", MB, 5), ("100 MB", 100 * MB, 3), ("1 GiB", GiB, 1)]
PASSWORD = "bench-admin-password"


def wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def multipart_stream(size: int) -> tuple[Iterator[bytes], int, str]:
    """A multipart body with one WAV file of ``size`` bytes, made as it is sent."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="bench.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    header = wav_header(size - 44)
    zeros = bytes(CHUNK)

    def body() -> Iterator[bytes]:
        yield head + header
        left = size - len(header)
        while left > 0:
            n = min(left, CHUNK)
            yield zeros if n == CHUNK else zeros[:n]
            left -= n
        yield tail

    return body(), len(head) + size + len(tail), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid, self.every = pid, every
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(proc_status(self.pid, "VmRSS"))
            time.sleep(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STAGECOACH_DATA_DIR": str(data_dir),
        "STAGECOACH_ADMIN_PASSWORD": PASSWORD,
        "STAGECOACH_LOG_FORMAT": "text",
        "STAGECOACH_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from stagecoach.cli import main; main()",
            "serve",
            "--no-worker",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def upload_once(client: httpx.Client, token: str, size: int) -> float:
    body, length, ctype = multipart_stream(size)
    start = time.perf_counter()
    r = client.post(
        "/api/v1/upload",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": ctype,
            "Content-Length": str(length),
        },
    )
    elapsed = time.perf_counter() - start
    if r.status_code != 202:
        raise RuntimeError(f"upload of {size} bytes answered {r.status_code}: {r.text[:300]}")
    return elapsed


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="stagecoach-bench-"))
    port = free_port()
    proc = start_server(data_dir, port)
    rows = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            upload_once(client, token, MB)  # warm up
            for label, size, runs in SIZES:
                before = proc_status(proc.pid, "VmRSS")
                cpu0 = cpu_seconds(proc.pid)
                with RssSampler(proc.pid) as sampler:
                    times = [upload_once(client, token, size) for _ in range(runs)]
                cpu_per_gib = (cpu_seconds(proc.pid) - cpu0) / runs / (size / GiB)
                best = min(times)
                rows.append(
                    (
                        label,
                        runs,
                        statistics.median(times),
                        size / best / MB,
                        size / statistics.median(times) / MB,
                        before,
                        max(sampler.samples or [before]),
                        cpu_per_gib,
                    )
                )
            hwm = proc_status(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"upload throughput (server: stagecoach serve --no-worker, SQLite, {os.cpu_count()} "
        "cores shared; sha256 + write to local disk + media probe)"
    )
    print(
        f"{'file':>8} {'runs':>4} {'median s':>9} {'best MB/s':>10} {'median MB/s':>12} "
        f"{'RSS before':>11} {'peak RSS during':>16} {'server CPU s/GiB':>17}"
    )
    for label, runs, med, best_rate, med_rate, before, peak, cpu in rows:
        print(
            f"{label:>8} {runs:>4} {med:>9.2f} {best_rate:>10.1f} {med_rate:>12.1f} "
            f"{before / 1024:>7.1f} MiB {peak / 1024:>12.1f} MiB {cpu:>17.2f}"
        )
    print(
        f"load average while benchmarking: {os.getloadavg()[0]:.1f} (other work shares the cores)"
    )
    print(f"server peak RSS over the whole run (VmHWM): {hwm / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

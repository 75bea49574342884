"""Upload throughput for 1 MB, 100 MB and 1 GiB files against a real server subprocess, and
the server's memory during the 1 GiB upload (flat when uploads stream).

The server is `stagecoach serve --no-worker` over SQLite in a temporary data directory; the
files are WAV (a real header, silent samples) generated while they are sent, so the client
holds no file in memory either. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import statistics
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import database, server_process, token

MB = 10**6
GiB = 2**30
CHUNK = 1 << 20
SIZES = [("1 MB", MB, 5), ("100 MB", 100 * MB, 3), ("1 GiB", GiB, 1)]


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


def upload_once(client: httpx.Client, bearer: str, size: int) -> float:
    body, length, ctype = multipart_stream(size)
    start = time.perf_counter()
    r = client.post(
        "/api/v1/upload",
        content=body,
        headers={
            "Authorization": f"Bearer {bearer}",
            "Content-Type": ctype,
            "Content-Length": str(length),
        },
    )
    elapsed = time.perf_counter() - start
    if r.status_code != 202:
        raise RuntimeError(f"upload of {size} bytes answered {r.status_code}: {r.text[:300]}")
    return elapsed


def main() -> None:
    rows = []
    with (
        database("sqlite") as (url, data),
        server_process(url, data, cpu=None) as (base, proc),
        httpx.Client(base_url=base, timeout=600) as client,
    ):
        bearer = token(base)
        upload_once(client, bearer, MB)  # warm up
        for label, size, runs in SIZES:
            before = proc_status(proc.pid, "VmRSS")
            cpu0 = cpu_seconds(proc.pid)
            with RssSampler(proc.pid) as sampler:
                times = [upload_once(client, bearer, size) for _ in range(runs)]
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

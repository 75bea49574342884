"""Real `stagecoach worker` / `stagecoach serve` processes for the fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from stagecoach.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STAGECOACH = Path(sys.executable).parent / "stagecoach"
PIPELINES = "tests.worker.pipelines:PIPELINES"
SPEECH_PIPELINES = "tests.worker.pipelines:SPEECH_PIPELINES"


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "STAGECOACH_DATA_DIR": str(settings.data_dir),
            "STAGECOACH_DATABASE_URL": settings.db_url,
            "STAGECOACH_LEASE_SECONDS": str(settings.lease_seconds),
            "STAGECOACH_RETRY_BACKOFF_SECONDS": str(settings.retry_backoff_seconds),
            "STAGECOACH_PROGRESS_WRITE_INTERVAL": str(settings.progress_write_interval),
            "STAGECOACH_MAX_ATTEMPTS": str(settings.max_attempts),
            "STAGECOACH_ADMIN_PASSWORD": "admin-password",
            "STAGECOACH_LOG_FORMAT": "json",
            "COVERAGE_PROCESS_START": "",
        }
    )
    if settings.secret_key is not None:
        env["STAGECOACH_SECRET_KEY"] = settings.secret_key.get_secret_value()
    env.update(extra)
    return env


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.p = subprocess.Popen(
            [str(STAGECOACH), *args],
            env=env,
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as under systemd or docker
        )

    @property
    def pid(self) -> int:
        return self.p.pid

    def signal(self, sig: int) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def signal_group(self, sig: int) -> None:
        """Signal the whole process group (the server, its stage hosts, the forkserver), as
        systemd and ``docker stop`` do."""
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self, timeout: float = 15) -> int | None:
        if self.p.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()
        return self.p.returncode


def start_worker(
    settings: Settings, log: Path, concurrency: int = 1, pipelines: str = PIPELINES, **env: str
) -> Proc:
    return Proc(
        ["worker", "--pipelines", pipelines, "--concurrency", str(concurrency)],
        env_for(settings, **env),
        log,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    settings: Settings, log: Path, port: int, pipelines: str = PIPELINES, **env: str
) -> Proc:
    return Proc(
        ["serve", "--pipelines", pipelines, "--port", str(port)], env_for(settings, **env), log
    )

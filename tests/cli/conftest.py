"""A real `stagecoach serve` subprocess (SQLite, its embedded worker, the installed
pipelines) and the `stagecoach` command run against it, each in its own config directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.dbs import SqliteTemplates
from tests.worker.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-password"


@dataclass
class Served:
    """One server process; ``restart()`` stops it and starts it again on the same port."""

    data_dir: Path
    db_url: str
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
        env.update(
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            STAGECOACH_DATA_DIR=str(self.data_dir),
            STAGECOACH_DATABASE_URL=self.db_url,
            STAGECOACH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STAGECOACH_LOG_FORMAT="text",
            STAGECOACH_PROGRESS_WRITE_INTERVAL="0.2",
            STAGECOACH_RETRY_BACKOFF_SECONDS="0.2",
        )
        return env

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stagecoach", "serve", "--port", str(self.port)],
            env=self.env(),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stagecoach serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("stagecoach serve did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def user(self, name: str, role: str = "analyst") -> str:
        """Creates an account through the API (as admin); returns its name."""
        with httpx.Client(base_url=self.url) as h:
            token = h.post(
                "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            r = h.post(
                "/api/v1/users",
                json={"username": name, "password": PASSWORD, "role": role},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201, r.text
        return name


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    s = Served(root / "data", SqliteTemplates(root / "db").new(), root / "serve.log")
    s.start()
    yield s
    s.stop()


_names = iter(range(1_000_000))


@pytest.fixture
def account(served: Served) -> str:
    return served.user(f"ana{next(_names)}")


@dataclass
class Cli:
    """The `stagecoach` command, as a user runs it: its own config directory, no settings."""

    config_home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
        base.update({"XDG_CONFIG_HOME": str(self.config_home), "COLUMNS": "100"})
        base.update({**self.env, **env})
        return subprocess.run(
            [sys.executable, "-m", "stagecoach", *args],
            env=base,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "config")


@pytest.fixture
def signed_in(cli: Cli, served: Served, account: str) -> Cli:
    r = cli("login", account, "--url", served.url, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    return cli


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    return make


def fields(doc: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: doc[n] for n in names}

"""The real command line, as subprocesses over a real SQLite database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stagecoach", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("STAGECOACH_DATABASE_URL", None)
    env.update(STAGECOACH_DATA_DIR=str(tmp_path / "data"), STAGECOACH_LOG_FORMAT="text")
    env.pop("STAGECOACH_ADMIN_PASSWORD", None)
    return env


def test_users_create_and_list(cli_env):
    env = {**cli_env, "STAGECOACH_NEW_PASSWORD": "a long password"}
    r = run(["users", "create", "boss", "--role", "manager"], env)
    assert r.returncode == 0, r.stderr
    r = run(["users", "create", "ana", "--role", "analyst", "--manager", "boss"], env)
    assert r.returncode == 0 and "analyst 'ana'" in r.stdout
    bad = run(["users", "create", "eve", "--role", "emperor"], env)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
    dup = run(["users", "create", "ana"], env)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    listed = run(["users", "list"], env).stdout
    assert "boss\tmanager" in listed and "ana\tanalyst" in listed


def test_serve_migrates_creates_admin_once_and_answers(cli_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stagecoach", "serve", "--port", str(port), "--no-worker"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up")
        assert httpx.get(f"{base}/healthz").json()["database"] == "sqlite"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    m = re.search(r"Created account 'admin' with password:\s*(\S+)", out)
    assert m, out
    # the printed password works, and a second start does not make another admin
    env = dict(cli_env)
    r = run(["users", "list"], env)
    assert r.stdout.splitlines() == ["admin\tadmin"]


def test_serve_on_a_taken_port_fails_first_in_one_line(cli_env, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run(["serve", "--port", str(port)], cli_env)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another with --port or STAGECOACH_PORT)"
    ]
    # before the URL, the admin's password or a worker, and before touching the database
    assert r.stdout == ""
    assert not (tmp_path / "data" / "stagecoach.db").exists()


def test_streamlit_without_streamlit_says_how_to_install_it(cli_env):
    # as on a machine without the extra: Streamlit cannot be found
    script = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'streamlit' else real(n, *a)\n"
        "from stagecoach.cli import main\n"
        "sys.argv = ['stagecoach', 'streamlit']\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "pip install 'stagecoach[streamlit]'" in out.stderr, out.stderr

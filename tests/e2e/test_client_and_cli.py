"""The Python client and the `stagecoach login/upload/status` commands against a real server
with its embedded worker: real uploads, real processing, real HTTP. SQLite only (the client
never sees the database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stagecoach.client import Client, StagecoachError
from tests.conftest import PASSWORD

TEXT = "The survey closed in May. Most answers came by mail. " * 40


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text(TEXT)
    return path


def cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
    return subprocess.run(
        [sys.executable, "-m", "stagecoach", *args],
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_client_uploads_follows_and_downloads(server, user_factory, notes, tmp_path):
    user = user_factory("analyst")
    seen: list[dict[str, Any]] = []
    with Client.login(server, user.username, PASSWORD) as sc:
        job = sc.upload([notes], case_name="Survey 2026")
        assert job["status"] in ("pending", "processing") and job["case_name"] == "Survey 2026"
        done = sc.wait(job["job_id"], poll_seconds=0.1, timeout=60, on_change=seen.append)
        assert done["status"] == "completed" and done["progress"] == 100
        assert seen[-1] == done
        progress = [d["progress"] for d in seen]
        assert progress == sorted(progress)  # never backwards, as shown to a user
        results = sc.results(done["job_id"])
        assert results, done
        saved = sc.download(done["job_id"], results[0]["name"], tmp_path / "out")
        assert saved.parent == tmp_path / "out" and saved.stat().st_size == results[0]["size"]
        assert not list((tmp_path / "out").glob("*.part"))


def test_the_client_says_what_the_server_refused(server, user_factory, notes):
    with pytest.raises(StagecoachError) as wrong:
        Client.login(server, user_factory("analyst").username, "not the password")
    assert wrong.value.status == 401
    other = user_factory("analyst")
    with Client.login(server, user_factory("analyst").username, PASSWORD) as sc:
        job = sc.upload([notes])
        with Client.login(server, other.username, PASSWORD) as theirs:
            with pytest.raises(StagecoachError) as hidden:
                theirs.status(job["job_id"])  # another analyst's job does not exist for them
            assert hidden.value.status == 404 and "not found" in hidden.value.detail
    with pytest.raises(StagecoachError) as down:
        Client("http://127.0.0.1:9", "x").status("any")
    assert down.value.status == 0 and down.value.title == "Cannot reach the server"


def test_the_command_line_logs_in_uploads_and_watches(server, user_factory, notes):
    user = user_factory("analyst")
    r = cli(["login", user.username, "--url", server], STAGECOACH_PASSWORD=PASSWORD)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    env = {"STAGECOACH_URL": server, "STAGECOACH_TOKEN": token}

    r = cli(["upload", str(notes), "--case", "Survey", "--wait"], **env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    job_id = lines[0].split()[0]
    assert all(line.startswith(job_id) for line in lines)
    assert "completed · 100%" in lines[-1] and len(lines) >= 2  # the 202's status, then more

    r = cli(["status", job_id], **env)
    assert r.returncode == 0 and r.stdout.startswith("completed · 100%"), r.stdout
    r = cli(["status", job_id, "--json"], **env)
    assert '"job_id": "' + job_id + '"' in r.stdout


def test_the_command_line_fails_clearly(server, user_factory):
    r = cli(["status", "some-job"], STAGECOACH_URL=server)
    assert r.returncode == 2 and "no token" in r.stderr
    r = cli(["login", "nobody", "--url", server], STAGECOACH_PASSWORD="wrong")
    assert r.returncode == 1 and "error:" in r.stderr and r.stdout == ""
    token = cli(
        ["login", user_factory("analyst").username, "--url", server], STAGECOACH_PASSWORD=PASSWORD
    ).stdout.strip()
    r = cli(["status", "no-such-job", "--watch"], STAGECOACH_URL=server, STAGECOACH_TOKEN=token)
    assert r.returncode == 1 and "error: Not found: job no-such-job not found" in r.stderr
    r = cli(["upload", "/no/such/file.txt"], STAGECOACH_URL=server, STAGECOACH_TOKEN=token)
    assert r.returncode == 2 and "does not exist" in r.stderr

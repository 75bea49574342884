"""`stagecoach upload --wait` against a real server: real files, real processing, the exit
code saying how the job ended, and the cause and hint of a failure."""

from __future__ import annotations

import json
import stat

TEXT = "The survey closed in May. Most answers came by mail. " * 40


def test_login_is_stored_privately_and_used(signed_in, served, account):
    stored = signed_in.config_home / "stagecoach" / "credentials.json"
    assert stored.is_file()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["url"] == served.url
    r = signed_in("whoami")
    assert r.returncode == 0 and r.stdout.strip() == f"{account} (analyst) at {served.url}"


def test_upload_wait_to_completion(signed_in, make_file):
    notes = make_file("notes.txt", TEXT)
    r = signed_in("upload", str(notes), "--case", "Survey", "--wait")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    job_id = lines[0].split()[0]
    assert all(line.startswith(job_id) for line in lines)
    assert "completed · 100%" in lines[-1] and len(lines) >= 2


def test_upload_wait_to_failure(signed_in, make_file):
    broken = make_file("empty.csv", "name,score\n")
    r = signed_in("upload", str(broken), "--wait")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "failed" in r.stdout.strip().splitlines()[-1]
    assert r.stderr.startswith("Processing failed."), r.stderr
    assert "hint: " in r.stderr

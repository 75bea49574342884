"""Every remote verb against a real server, plain (piped) and --json; and every bad input
answered with one line on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

import json

from stagecoach.client import Client
from tests.cli.conftest import Cli
from tests.conftest import PASSWORD
from tests.worker.procs import free_port

TEXT = "Interviews were held in June and July. " * 30


def _job(signed_in, make_file, name="notes.txt", case="Case 7", *extra):
    r = signed_in("upload", str(make_file(name, TEXT)), "--case", case, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_status_jobs_timeline_results_and_cases(signed_in, make_file, tmp_path):
    doc = _job(signed_in, make_file)
    job_id = doc["job_id"]
    r = signed_in("status", job_id, "--watch")
    assert r.returncode == 0 and "completed · 100%" in r.stdout.splitlines()[-1], r.stderr

    r = signed_in("status", job_id)
    assert r.returncode == 0 and r.stdout.startswith("completed · 100%")
    assert json.loads(signed_in("status", job_id, "--json").stdout)["job_id"] == job_id

    rows = [line.split("\t") for line in signed_in("jobs").stdout.splitlines()]
    assert [row[:2] for row in rows] == [[job_id, "completed"]]
    assert rows[0][4] == "Case 7"
    assert signed_in("jobs", "--status", "failed").stdout == ""
    listed = json.loads(signed_in("jobs", "--case", "Case 7", "--json").stdout)
    assert listed["total"] == 1 and listed["jobs"][0]["job_id"] == job_id

    entries = [line.split("\t") for line in signed_in("timeline", job_id).stdout.splitlines()]
    kinds = [e[1] for e in entries]
    assert kinds[0] == "created" and entries[-1][2] == "completed"
    assert json.loads(signed_in("timeline", job_id, "--json").stdout)["entries"][0]["kind"] == (
        "created"
    )

    names = [line.split("\t")[0] for line in signed_in("results", job_id).stdout.splitlines()]
    assert "notes.txt" in names or any(n.endswith(".txt") for n in names), names
    out = tmp_path / "out"
    r = signed_in("results", job_id, "--download", str(out))
    assert r.returncode == 0, r.stderr
    listed = json.loads(signed_in("results", job_id, "--json").stdout)["results"]
    as_saved = [x["download_name"] for x in listed]  # the names the pages give them
    saved = sorted(p.name for p in out.iterdir())
    assert saved == sorted(as_saved) and [str(out / n) for n in as_saved] == r.stdout.splitlines()

    cases = [line.split("\t") for line in signed_in("cases").stdout.splitlines()]
    assert [c[:2] for c in cases] == [["Case 7", "1"]]
    r = signed_in("cases", "show", "Case 7")
    assert r.stdout.split("\t")[:3] == [job_id, "completed", "1/1"], r.stdout
    assert json.loads(signed_in("cases", "show", "Case 7", "--json").stdout)["case_name"] == (
        "Case 7"
    )


def test_cancel_and_retry(signed_in, served, account, make_file):
    with Client.login(served.url, account, PASSWORD) as c:
        own = c.create_job(stages=["Fetching"])  # a job the worker never takes
        r = signed_in("cancel", own["job_id"])
        assert r.returncode == 0 and r.stdout.startswith("cancelled"), r.stderr
        r = signed_in("cancel", own["job_id"])
        assert r.returncode == 4 and r.stderr.startswith("error: Conflict: only pending")

        other = c.create_job(stages=["Fetching"])
        c.report(other["job_id"], status="processing", current_stage="Fetching")
        c.report(other["job_id"], status="failed", error={"code": "x", "retryable": True})
        r = signed_in("retry", other["job_id"], "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["status"] == "pending", r.stderr


def test_logout_revokes_and_forgets(signed_in, served):
    stored = signed_in.config_home / "stagecoach" / "credentials.json"
    token = json.loads(stored.read_text())["token"]
    r = signed_in("logout")
    assert r.returncode == 0 and not stored.exists()
    r = signed_in("whoami")
    assert r.returncode == 2 and "not signed in" in r.stderr
    r = signed_in("whoami", STAGECOACH_TOKEN=token, STAGECOACH_URL=served.url)
    assert r.returncode == 4
    assert r.stderr.strip() == (
        "error: the token is unknown, expired or revoked (sign in again: stagecoach login)"
    )


def test_environment_overrides_what_is_stored(signed_in, served, account):
    with Client.login(served.url, "admin", "admin-password") as admin:
        token = admin.token
    assert signed_in("whoami").stdout.startswith(account)
    r = signed_in("whoami", STAGECOACH_TOKEN=str(token))
    assert r.stdout.startswith("admin (admin)"), r.stderr
    # another server: the stored token is not sent there
    elsewhere = f"http://127.0.0.1:{free_port()}"
    r = signed_in("whoami", STAGECOACH_URL=elsewhere)
    assert r.returncode == 2 and "not signed in" in r.stderr


def test_bad_input_is_one_line_and_an_exit_code(signed_in, served, account, make_file, tmp_path):
    cli = Cli(tmp_path / "nobody")  # never signed in

    def one_line(r, code, starts):
        assert r.returncode == code, (r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert r.stderr.startswith(starts), r.stderr

    # wrong credentials
    one_line(
        cli("login", account, "--url", served.url, "--password-stdin", input="wrong\n"),
        4,
        "error: Unauthorized: wrong username or password",
    )
    # unreachable server
    down = f"http://127.0.0.1:{free_port()}"
    one_line(
        cli("login", account, "--url", down, "--password-stdin", input=PASSWORD + "\n"),
        4,
        "error: Cannot reach the server",
    )
    one_line(cli("status", "x", "--url", down, "--token", "t"), 4, "error: Cannot reach")
    # an expired or made-up token
    one_line(cli("jobs", "--url", served.url, "--token", "nope"), 4, "error: the token is")
    # a missing file, a file the server refuses, an unknown job
    one_line(signed_in("upload", "/no/such/file.txt"), 2, "Usage:")
    assert "does not exist" in signed_in("upload", "/no/such/file.txt").stderr
    refused = make_file("broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 200)
    one_line(signed_in("upload", str(refused)), 4, "error: Unprocessable content: file 1")
    one_line(signed_in("status", "no-such-job"), 4, "error: Not found: job no-such-job")
    one_line(signed_in("status", "no-such-job", "--watch"), 4, "error: Not found")
    one_line(signed_in("timeline", "no-such-job"), 4, "error: Not found")
    one_line(signed_in("results", "no-such-job"), 4, "error: Not found")
    one_line(signed_in("cases", "show", "No such case"), 4, "error: Not found")
    for r in (signed_in("status", "x"), cli("jobs", "--url", served.url)):
        assert len(r.stderr.strip().splitlines()) == 1


def test_downloads_of_two_datasets_are_named_by_their_files(signed_in, make_file, tmp_path):
    # both datasets make a story.md: on disk each carries its file's name, as on the pages
    a = make_file("sales.csv", "region,amount\n" + "north,3\nsouth,5\n" * 20)
    b = make_file("staff.csv", "team,people\n" + "ops,3\nlab,5\n" * 20)
    r = signed_in("upload", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    job_id = json.loads(r.stdout)["job_id"]
    assert signed_in("status", job_id, "--watch").returncode == 0
    out = tmp_path / "out"
    assert signed_in("results", job_id, "--download", str(out)).returncode == 0
    saved = {p.name for p in out.iterdir()}
    assert {"sales - story.md", "staff - profile.json"} <= saved, saved
    assert not any(n.endswith(".part") for n in saved)

"""The Streamlit front end, driven by Streamlit's own AppTest against a real
`stagecoach serve`: sign in, upload, watch a job complete, watch one fail and retry it;
and `stagecoach streamlit` answering its health endpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stagecoach.client import Client
from tests.conftest import PASSWORD
from tests.worker.procs import free_port

testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "src" / "stagecoach" / "streamlit" / "app.py"
TEXT = "The survey closed in May. Most answers came by mail. " * 40


@pytest.fixture
def app(served, monkeypatch):
    monkeypatch.setenv("STAGECOACH_URL", served.url)
    monkeypatch.setenv("STAGECOACH_POLL_INTERVAL", "1")
    return testing.AppTest.from_file(str(APP), default_timeout=30)


def sign_in(at, username, password=PASSWORD):
    at.run()
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(password)
    at.button(key="sign_in").click().run()
    assert not at.exception, at.exception


def texts(at) -> str:
    parts = [
        e.value
        for kind in ("markdown", "success", "error", "info", "caption")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def watch_until(at, word, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if word in texts(at):
            return
        time.sleep(0.5)
    raise AssertionError(f"{word!r} never shown: {texts(at)}")


def upload(at, name, content, case=None):
    at.button(key="nav_upload").click().run()
    at.file_uploader(key="files").set_value((name, content, "application/octet-stream")).run()
    if case:
        at.selectbox(key="case_choice").select("New case...").run()
        at.text_input(key="new_case").input(case)
    at.button(key="upload").click().run()
    assert not at.exception, at.exception
    return at.session_state["job_id"]


def test_wrong_password_is_a_streamlit_error(app, account):
    sign_in(app, account, "not the password")
    assert [e.value for e in app.error] == ["wrong username or password"]
    assert "client" not in app.session_state


def test_sign_in_upload_and_watch_a_job_complete(app, account, served):
    sign_in(app, account)
    assert [h.value for h in app.header] == ["Your jobs"]
    job_id = upload(app, "notes.txt", TEXT.encode(), case="Field notes")
    assert app.header[0].value == f"Job {job_id[:8]}"
    # the stage path shows from the first render (the job may already have finished)
    assert re.search(r"Uploading.* → .*(Completed/Failed|\*\*Completed\*\*)", texts(app))
    watch_until(app, "**Completed**")
    assert [s.value for s in app.success] == ["Document processed!"]
    downloads = app.get("download_button")
    assert downloads, "no downloads once done"
    with Client.login(served.url, account, PASSWORD) as c:
        assert c.status(job_id)["case_name"] == "Field notes"
    # the jobs page lists it, with its progress bar
    app.button(key="nav_jobs").click().run()
    assert any("notes.txt" in m.value for m in app.markdown)
    assert [p.value for p in app.get("progress")] == [100]


def test_watch_a_job_fail_and_retry_it(app, account, served):
    sign_in(app, account)
    job_id = upload(app, "empty.csv", b"name,score\n")
    watch_until(app, "Processing failed.")
    assert "header row" in texts(app)  # the hint
    app.button(key=f"retry-{job_id}").click().run()
    assert not app.exception
    with Client.login(served.url, account, PASSWORD) as c:
        said = [e["message"] or "" for e in c.timeline(job_id)]
        assert any(m.startswith("retry requested by user") for m in said), said
    watch_until(app, "Processing failed.")  # it fails again: the file is still empty


def test_stagecoach_streamlit_starts_and_answers_its_health_endpoint(served, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
    env["HOME"] = str(tmp_path)  # streamlit keeps its own files under ~/.streamlit
    proc = subprocess.Popen(
        [sys.executable, "-m", "stagecoach", "streamlit", "--url", served.url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                if r.status_code == 200:
                    assert r.text == "ok"
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("stagecoach streamlit did not answer")
    finally:
        proc.terminate()
        proc.wait(20)

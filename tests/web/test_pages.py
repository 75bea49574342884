"""The pages over HTTP: sign in and out, CSRF, redirects, visibility, escaping."""

from __future__ import annotations

import re

from stagecoach.web.views import status_label
from tests.web.conftest import csrf_of

HOSTILE = "<script>alert(1)</script>"


def test_signed_out_visitors_go_to_login(client):
    for path in ("/", "/upload", "/cases", "/jobs/some-job"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
    assert client.get("/help").status_code == 200  # help is public


def test_login_sets_a_safe_session_cookie_and_logout_revokes_it(client, user_factory, sign_in):
    user = user_factory("analyst")
    sign_in(user.username)
    cookie = client.cookies.get("stagecoach_session")
    assert cookie
    r = client.get("/")
    assert r.status_code == 200
    assert user.username in r.text
    # the API accepts the session too, until sign-out
    assert client.get("/api/v1/me").json()["username"] == user.username
    r = client.post("/logout", data={"csrf_token": csrf_of(r.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("stagecoach_session", cookie)  # even replayed, it is dead now
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_session_cookie_flags(client, user_factory):
    user = user_factory("analyst")
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={
            "username": user.username,
            "password": "correct horse battery",
            "csrf_token": token,
            "next": "/cases",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/cases"
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie


def test_login_never_redirects_off_site(client, user_factory):
    user = user_factory("analyst")
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={
            "username": user.username,
            "password": "correct horse battery",
            "csrf_token": token,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_wrong_password_says_so_without_a_session(client, user_factory):
    user = user_factory("analyst")
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": user.username, "password": "nope nope nope", "csrf_token": token},
    )
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    assert "stagecoach_session" not in client.cookies


def test_forms_without_a_valid_csrf_token_are_refused(
    client, user_factory, sign_in, analyst, job_factory
):
    user = user_factory("analyst")
    client.get("/login")
    for data in ({}, {"csrf_token": "forged"}):
        r = client.post(
            "/login", data={"username": user.username, "password": "correct horse battery", **data}
        )
        assert r.status_code == 403
        assert "stagecoach_session" not in client.cookies
    sign_in(user.username)
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    # a token from another browser (another csrf cookie) does not work either
    client.cookies.set("stagecoach_csrf", "another-browser")
    assert (
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text) + "x"}).status_code
        == 403
    )


def test_retry_and_cancel_need_csrf_and_work_with_it(
    client, user_factory, sign_in, login, job_factory
):
    user = user_factory("analyst")
    h = login(user.username)
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
    client.patch(
        f"/api/v1/jobs/{job_id}",
        headers=h,
        json={
            "status": "failed",
            "error": {
                "code": "dependency_down",
                "category": "dependency",
                "retryable": True,
                "message": "The speech service did not answer.",
                "hint": "Retry in a minute.",
            },
        },
    )
    sign_in(user.username)
    page = client.get(f"/jobs/{job_id}")
    assert "The speech service did not answer." in page.text
    assert "Retry in a minute." in page.text
    assert 'data-action="retry"' in page.text and "Upload new file" in page.text
    assert 'href="/help#failed"' in page.text
    r = client.post(f"/jobs/{job_id}/retry", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}", headers=h).json()["status"] == "failed"
    r = client.post(
        f"/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job_id}"
    assert client.get(f"/api/v1/jobs/{job_id}", headers=h).json()["status"] == "pending"
    page = client.get(f"/jobs/{job_id}")
    # Cancel asks first (a browser without script gets a page that asks)
    ask = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert ask.status_code == 200 and "Yes, cancel processing" in ask.text
    assert client.get(f"/api/v1/jobs/{job_id}", headers=h).json()["status"] == "pending"
    r = client.post(
        f"/jobs/{job_id}/cancel",
        data={"csrf_token": csrf_of(ask.text), "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/api/v1/jobs/{job_id}", headers=h).json()["status"] == "cancelled"
    cancelled = client.get(f"/jobs/{job_id}").text
    assert 'class="card neutral"' in cancelled and 'class="card failure"' not in cancelled


def test_another_users_job_page_is_404(client, user_factory, sign_in, login, job_factory):
    owner = user_factory("analyst")
    other = user_factory("analyst")
    job_id = job_factory(login(owner.username), case_name="Secret case")["job_id"]
    sign_in(other.username)
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/panel"):
        r = client.get(path)
        assert r.status_code == 404
        assert "Secret case" not in r.text
    assert "Secret case" not in client.get("/").text
    assert "Secret case" not in client.get("/cases").text
    page = client.get("/")
    r = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 404


def test_managers_see_their_teams_jobs(client, user_factory, sign_in, login, job_factory):
    boss = user_factory("manager")
    member = user_factory("analyst", manager=boss.username)
    job_id = job_factory(login(member.username), case_name="Team case")["job_id"]
    sign_in(boss.username)
    assert job_id in client.get("/").text
    assert client.get(f"/jobs/{job_id}").status_code == 200


def test_hostile_names_are_escaped_everywhere(
    client, user_factory, sign_in, login, job_factory, file_factory
):
    user = user_factory("analyst")
    h = login(user.username)
    fid = file_factory(user, name=HOSTILE + ".wav")
    job = job_factory(h, case_name=HOSTILE, related_file_ids=[fid])
    client.patch(
        f"/api/v1/jobs/{job['job_id']}",
        headers=h,
        json={"status": "processing", "message": HOSTILE, "current_stage": HOSTILE[:60]},
    )
    sign_in(user.username)
    pages = [
        "/",
        "/cases",
        f"/jobs/{job['job_id']}",
        f"/jobs/{job['job_id']}/panel",
        f"/?case={HOSTILE}",
        f"/upload?case={HOSTILE}",
    ]
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<script>alert" not in r.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, path


def test_job_page_shows_progress_stages_and_timeline(
    client, user_factory, sign_in, login, job_factory, clock
):
    user = user_factory("analyst")
    h = login(user.username)
    job_id = job_factory(h, pipeline="audio", duration_total=600)["job_id"]
    client.patch(
        f"/api/v1/jobs/{job_id}",
        headers=h,
        json={"status": "processing", "current_stage": "Uploading", "progress": 5},
    )
    clock.advance(12)
    client.patch(
        f"/api/v1/jobs/{job_id}", headers=h, json={"current_stage": "Transcribing", "progress": 40}
    )
    sign_in(user.username)
    html = client.get(f"/jobs/{job_id}").text
    assert 'role="progressbar"' in html and 'aria-valuenow="40.0"' in html
    assert ">40%<" in html
    assert "Processing audio..." in html
    assert "done in 12s" in html  # the finished stage with its duration
    assert 'aria-current="step"' in html
    assert "Timeline" in html and "Last updated" in html
    client.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"progress": 95})
    assert "Almost done" in client.get(f"/jobs/{job_id}").text
    clock.advance(30)
    client.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"status": "completed", "progress": 100})
    html = client.get(f"/jobs/{job_id}").text
    assert "Transcription complete!" in html
    assert "Processing took" in html
    assert "no files to download" in html  # results are listed server-side now


def test_stalled_job_warns(client, user_factory, sign_in, login, job_factory, clock):
    user = user_factory("analyst")
    h = login(user.username)
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"status": "processing", "progress": 3})
    clock.advance(400)
    sign_in(user.username)
    html = client.get(f"/jobs/{job_id}").text
    warning = html.split('data-field="stalled"', 1)[1].split(">", 1)[0]
    assert "hidden" not in warning
    assert "Stalled" in html


def test_dashboard_filters_by_status_and_case(
    client, user_factory, sign_in, login, job_factory, clock
):
    user = user_factory("analyst")
    h = login(user.username)
    a = job_factory(h, case_name="Alpha")["job_id"]
    clock.advance(5)
    b = job_factory(h, case_name="Beta")["job_id"]
    client.patch(f"/api/v1/jobs/{b}", headers=h, json={"status": "processing", "progress": 10})
    sign_in(user.username)
    html = client.get("/?case=Alpha").text
    assert a in html and b not in html
    html = client.get("/?status=processing").text
    assert b in html and a not in html
    cases = client.get("/cases").text
    assert cases.index("Beta") < cases.index("Alpha")  # newest first
    assert "/upload?case=Alpha" in cases


def test_dashboard_counts_every_visible_job_by_status(
    client, user_factory, sign_in, login, job_factory, services
):
    user, other = user_factory("analyst"), user_factory("analyst")
    h = login(user.username)
    ids = [job_factory(h)["job_id"] for _ in range(3)]
    client.patch(f"/api/v1/jobs/{ids[0]}", headers=h, json={"status": "processing"})
    job_factory(login(other.username))  # not theirs: not counted
    assert services.tracking.status_counts(user) == {"pending": 2, "processing": 1}
    sign_in(user.username)
    html = client.get("/").text

    def tab(status: str) -> str:
        found = re.search(rf'data-count="{status}">(\d+)<', html)
        assert found, status
        return found.group(1)

    assert tab("all") == "3"
    assert (tab("pending"), tab("processing"), tab("failed")) == ("2", "1", "0")
    assert f">{status_label('pending')} <span" in html  # each tab is named by its status

"""Issue 12: what a hostile or clumsy client got through before, refused now.

Each test failed before the hardening: forged same-site API writes, framing, 500s from NUL
bytes and overflowing numbers, coerced types, an expired token still accepted, and the
smaller items (chunked bodies, 416 titles, case names, pipeline/type mismatch, /metrics).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from stagecoach.app import create_app
from tests.conftest import PASSWORD
from tests.samples import wav_bytes
from tests.uploads_helpers import upload
from tests.web.conftest import csrf_of

PROBLEM = "application/problem+json"


def _browser(client: TestClient, username: str) -> str:
    """Sign the client in through the login form; returns the page's CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/upload").text)


# --- item 2: same-site request forgery on the JSON API -----------------------------------


def test_cookie_signed_api_writes_need_the_csrf_header(client, user_factory, login):
    user = user_factory()
    token = _browser(client, user.username)
    assert client.get("/api/v1/me").status_code == 200  # reads need no token

    forged = client.post("/api/v1/jobs", json={"stages": ["Working"]})
    assert forged.status_code == 403, forged.text
    assert forged.headers["content-type"] == PROBLEM
    assert "X-CSRF-Token" in forged.json()["detail"]
    body, ctype = _one_txt_upload()
    planted = client.post("/api/v1/upload", content=body, headers={"Content-Type": ctype})
    assert planted.status_code == 403
    wrong = client.post(
        "/api/v1/jobs", json={"stages": ["Working"]}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403

    made = client.post(
        "/api/v1/jobs", json={"stages": ["Working"]}, headers={"X-CSRF-Token": token}
    )
    assert made.status_code == 201, made.text
    job_id = made.json()["job_id"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 403
    ok = client.post(f"/api/v1/jobs/{job_id}/cancel", headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"

    # A bearer token is never sent by a browser on its own: no CSRF header needed.
    bare = TestClient(client.app)
    h = login(user.username)
    assert bare.post("/api/v1/jobs", json={"stages": ["W"]}, headers=h).status_code == 201


def _one_txt_upload() -> tuple[bytes, str]:
    from tests.uploads_helpers import multipart

    return multipart([("notes.txt", b"hello there\n")])


# --- item 3: security headers ------------------------------------------------------------


def test_pages_cannot_be_framed_and_say_nosniff(client, user_factory):
    _browser(client, user_factory().username)
    for path in ("/login", "/", "/upload", "/help"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
    api = client.get("/api/v1/me")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert api.headers["x-content-type-options"] == "nosniff"


# --- item 5: NUL bytes (a 500 on PostgreSQL) --------------------------------------------


def test_nul_bytes_are_refused_or_stripped(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    for path in (
        "/api/v1/jobs/a%00b",
        "/api/v1/jobs/a%00b/status",
        "/api/v1/files/a%00b",
        "/api/v1/files/a%00b/content",
        "/api/v1/cases/a%00b/jobs",
        "/api/v1/jobs?case_name=a%00b",
        "/jobs/a%00b",
    ):
        r = client.get(path, headers=h)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
    made = client.post("/api/v1/jobs", json={"case_name": "Case\u0000 7"}, headers=h)
    assert made.status_code == 201 and made.json()["case_name"] == "Case 7"  # display text
    bad = client.patch(f"/api/v1/jobs/{job_id}", json={"message": "half\u0000way"}, headers=h)
    assert bad.status_code == 422 and "NUL" in bad.text
    # Sign-in needs no authentication: NUL in the name is a wrong name, not a 500.
    r = client.post("/api/v1/auth/token", data={"username": "ad\x00min", "password": "x" * 8})
    assert r.status_code == 401
    page = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": "ad\x00min", "password": "x", "csrf_token": page})
    assert r.status_code == 401


# --- item 6: overflow -------------------------------------------------------------------


def test_numbers_are_bounded(client, analyst, job_factory):
    _, h = analyst
    assert client.get("/api/v1/jobs?offset=9223372036854775808", headers=h).status_code == 422
    assert client.get("/api/v1/jobs?offset=2147483648", headers=h).status_code == 200
    huge = job_factory(h, duration_total=1e12, unit="audio_seconds", pipeline="audio")
    assert huge["eta_seconds"] is not None  # capped at a century, not an OverflowError
    assert client.get(f"/api/v1/jobs/{huge['job_id']}", headers=h).status_code == 200
    for value in (1.2e308, 1e16, -1):
        r = client.post("/api/v1/jobs", json={"duration_total": value}, headers=h)
        assert r.status_code == 422, (value, r.text)


# --- item 7: an expired token is not served from the cache -------------------------------


def test_an_expired_token_is_refused_within_the_cache_window(make_settings, clock):
    from stagecoach.services.context import ServiceContext
    from stagecoach.services.registry import Services

    settings = make_settings(token_ttl_hours=1, token_cache_seconds=3600)
    svc = Services(ServiceContext.from_settings(settings, clock=clock))
    try:
        svc.accounts.ensure_admin()
        token = svc.accounts.login("admin", "admin-password")
        assert svc.accounts.user_for_token(token) is not None  # now cached
        clock.advance(3600 + 1)
        assert svc.accounts.user_for_token(token) is None
    finally:
        svc.ctx.db.dispose()


# --- item 8: the smaller items -----------------------------------------------------------


def test_a_chunked_body_over_the_limit_gets_413(client, analyst):
    _, h = analyst

    def chunks():
        for _ in range(16):
            yield b" " * 65536

    r = client.post(
        "/api/v1/jobs", content=chunks(), headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["title"] == "Content too large"


def test_types_are_not_coerced(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    for body in ({"seq": True}, {"progress": "50"}, {"seq": "3"}, {"error": {"retryable": 1}}):
        r = client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    ok = client.patch(f"/api/v1/jobs/{job_id}", json={"progress": 50, "seq": 1}, headers=h)
    assert ok.status_code == 200 and ok.json()["progress"] == 50


def test_one_case_name_rule_for_uploads_and_jobs(client, analyst):
    _, h = analyst
    raw = "  Case\u200b 12\u202e\u0007 "
    made = client.post("/api/v1/jobs", json={"case_name": raw}, headers=h).json()
    uploaded = upload(client, h, [("notes.txt", b"some text\n")], case_name=raw)
    assert uploaded.status_code == 202, uploaded.text
    assert made["case_name"] == uploaded.json()["case_name"] == "Case 12"


def test_a_pipeline_that_cannot_read_the_file_is_refused_at_upload(client, analyst):
    _, h = analyst
    r = upload(client, h, [("notes.txt", b"some text\n")], pipeline="audio")
    assert r.status_code == 415, r.text
    assert "audio pipeline cannot process document files" in r.json()["detail"]
    ok = upload(client, h, [("talk.wav", wav_bytes(0.5))], pipeline="audio")
    assert ok.status_code == 202
    assert upload(client, h, [("notes.txt", b"x\n")], pipeline="checksum").status_code == 202


def test_416_is_titled(client, analyst):
    _, h = analyst
    doc = upload(client, h, [("notes.txt", b"some text\n")]).json()
    file_id = doc["artifacts"][0]["file_id"]
    r = client.get(f"/api/v1/files/{file_id}/content", headers={**h, "Range": "bytes=900-"})
    assert r.status_code == 416
    assert r.json()["title"] == "Range not satisfiable"


def test_metrics_open_on_loopback_else_a_bearer_token(make_settings, services):
    app = create_app(make_settings(metrics_token="metrics-secret"), services=services)
    with TestClient(app) as remote:  # the test client's address is not loopback
        assert remote.get("/metrics").status_code == 403
        wrong = remote.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        ok = remote.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})
        assert ok.status_code == 200 and "stagecoach_jobs" in ok.text
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/metrics").status_code == 200


def test_no_server_path_reaches_a_response(client, analyst, settings):
    _, h = analyst
    broken = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64  # not decodable
    r = upload(client, h, [("talk.mp3", broken)])
    assert r.status_code == 422, r.text
    root = str(settings.files_dir.resolve())
    assert root not in r.text and "/uploads/" not in r.text, r.text


def test_stage_errors_lose_server_paths():
    from stagecoach.domain.errors import JobError, StageError

    err = StageError(
        "audio_unreadable",
        "The recording cannot be read: it is damaged 0 s into the recording ([Errno "
        "1094995529] Invalid data found when processing input: '/srv/sc/files/uploads/1d/x')",
    ).error
    assert "/srv" not in err.message and "'<file>'" in err.message
    stored = JobError.from_dict({"message": "open /var/lib/sc/files/results/j/a.txt failed"})
    assert stored.message == "open <file> failed"

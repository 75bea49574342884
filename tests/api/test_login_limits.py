"""Issue 12, item 4: sign-in attempts are limited per username and per client address, in
the database (so every API process counts the same attempts), answering 429 with
Retry-After before any password is checked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stagecoach.app import create_app
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from tests.conftest import PASSWORD
from tests.web.conftest import csrf_of

TOKEN = "/api/v1/auth/token"


def _try(client: TestClient, username: str, password: str) -> int:
    return client.post(TOKEN, data={"username": username, "password": password}).status_code


def test_failed_sign_ins_are_limited_across_processes(make_settings, clock, user_factory):
    settings = make_settings(login_attempts=3, login_window_seconds=60)
    # Two API processes over one database: each has its own services and caches.
    first = Services(ServiceContext.from_settings(settings, clock=clock))
    second = Services(ServiceContext.from_settings(settings, clock=clock))
    ana, bob = user_factory(), user_factory()
    try:
        with (
            TestClient(create_app(settings, services=first)) as a,
            TestClient(create_app(settings, services=second)) as b,
        ):
            assert [_try(c, ana.username, "wrong-password") for c in (a, b, a)] == [401] * 3
            refused = b.post(TOKEN, data={"username": ana.username, "password": PASSWORD})
            assert refused.status_code == 429, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["title"] == "Too many requests"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            # The right password for another user keeps working.
            assert _try(a, bob.username, PASSWORD) == 200
            assert _try(b, bob.username, PASSWORD) == 200
            clock.advance(61)  # the window is over
            assert _try(a, ana.username, PASSWORD) == 200
    finally:
        first.ctx.db.dispose()
        second.ctx.db.dispose()


def test_one_address_cannot_spray_many_usernames(make_settings, clock):
    settings = make_settings(login_attempts=2, login_window_seconds=60)
    services = Services(ServiceContext.from_settings(settings, clock=clock))
    services.accounts.ensure_admin()
    with TestClient(create_app(settings, services=services)) as c:
        codes = [_try(c, f"nobody{i}", "wrong-password") for i in range(7)]
        # 3 x 2 failures per address, then 429 whatever the name (no argon2 spent).
        assert codes == [401] * 6 + [429]
        # The sign-in page is limited by the same counts.
        page = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"username": "x", "password": "y", "csrf_token": page})
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text
        assert int(r.headers["retry-after"]) >= 1
    with TestClient(create_app(settings, services=services), client=("10.0.0.9", 1)) as other:
        assert _try(other, "admin", "admin-password") == 200  # another address is unaffected
    services.ctx.db.dispose()


def test_right_passwords_do_not_use_up_the_limit(make_settings, clock):
    settings = make_settings(login_attempts=2)
    services = Services(ServiceContext.from_settings(settings, clock=clock))
    services.accounts.ensure_admin()
    with TestClient(create_app(settings, services=services)) as c:
        assert [_try(c, "admin", "admin-password") for _ in range(8)] == [200] * 8
        assert _try(c, "admin", "wrong-password") == 401
        assert _try(c, "admin", "admin-password") == 200
    services.ctx.db.dispose()

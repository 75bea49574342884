"""Who sees what: analysts their own, managers their team's, admins everything."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def test_other_analysts_job_is_404_like_a_missing_one(client, user_factory, login, job_factory):
    a, b = user_factory(), user_factory()
    ha, hb = login(a.username), login(b.username)
    job_id = job_factory(ha)["job_id"]
    for path in ("", "/status", "/timeline"):
        r = client.get(f"/api/v1/jobs/{job_id}{path}", headers=hb)
        missing = client.get(f"/api/v1/jobs/00000000-0000-0000-0000-000000000000{path}", headers=hb)
        assert r.status_code == missing.status_code == 404
        assert r.json()["title"] == missing.json()["title"]
    assert (
        client.patch(f"/api/v1/jobs/{job_id}", json={"progress": 5}, headers=hb).status_code == 404
    )
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=hb).status_code == 404
    assert client.get("/api/v1/jobs", headers=hb).json()["total"] == 0


def test_manager_sees_team_and_admin_sees_all(client, user_factory, login, job_factory):
    boss = user_factory("manager")
    mine = user_factory("analyst", manager=boss.username)
    other = user_factory("analyst")
    j_team = job_factory(login(mine.username))["job_id"]
    j_other = job_factory(login(other.username))["job_id"]
    hm = login(boss.username)
    seen = {j["job_id"] for j in client.get("/api/v1/jobs", headers=hm).json()["jobs"]}
    assert seen == {j_team}
    assert client.get(f"/api/v1/jobs/{j_other}", headers=hm).status_code == 404
    ha = login("admin", "admin-password")
    seen = {j["job_id"] for j in client.get("/api/v1/jobs", headers=ha).json()["jobs"]}
    assert seen == {j_team, j_other}


def test_users_admin_only_and_validated(client, analyst, login):
    _, h = analyst
    body = {"username": "newbie", "password": "long enough pw", "role": "analyst"}
    assert client.post("/api/v1/users", json=body, headers=h).status_code == 403
    ha = login("admin", "admin-password")
    r = client.post("/api/v1/users", json=body, headers=ha)
    assert r.status_code == 201 and r.json()["role"] == "analyst"
    assert client.post("/api/v1/users", json=body, headers=ha).status_code == 409
    bad = client.post("/api/v1/users", json={**body, "username": "x2", "role": "king"}, headers=ha)
    assert bad.status_code == 422
    nomgr = client.post(
        "/api/v1/users", json={**body, "username": "x3", "manager": "ghost"}, headers=ha
    )
    assert nomgr.status_code == 422 and "ghost" in nomgr.json()["detail"]
    names = [u["username"] for u in client.get("/api/v1/users", headers=ha).json()]
    assert "newbie" in names and "admin" in names


def test_me_login_and_revocation(client, analyst, login):
    user, h = analyst
    assert client.get("/api/v1/me", headers=h).json()["username"] == user.username
    r = client.post("/api/v1/auth/token", data={"username": user.username, "password": "wrong"})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert client.post("/api/v1/auth/revoke", headers=h).status_code == 204
    assert client.get("/api/v1/me", headers=h).status_code == 401


def test_healthz_checks_the_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"

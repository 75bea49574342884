"""The status poll: one read path, 304 without building the document, no writes, real auth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from stagecoach.api.deps import SESSION_COOKIE
from stagecoach.domain.job_update import Report
from stagecoach.services.context import ServiceContext
from stagecoach.services.record_cache import RENEW_AFTER_SECONDS, RecordCache, stamp_of
from stagecoach.services.registry import Services

PROBLEM = "application/problem+json"
WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN", "SAVEPOINT", "CREATE", "ALTER", "DROP")


@pytest.fixture
def settings(make_settings):
    # a short token cache, so a revocation elsewhere shows within the test
    return make_settings(token_cache_seconds=0.3)


@pytest.fixture
def statements(services) -> Iterator[list[str]]:
    """Every statement the services' engine sends from now on."""
    seen: list[str] = []

    def record(_conn: Any, _cur: Any, sql: str, *_: Any) -> None:
        seen.append(" ".join(sql.split()))

    event.listen(services.ctx.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(services.ctx.db.engine, "before_cursor_execute", record)


def poll(client, job_id: str, headers: dict[str, str], etag: str | None = None):
    h = {**headers, **({"If-None-Match": etag} if etag else {})}
    return client.get(f"/api/v1/jobs/{job_id}/status", headers=h)


def test_304_answers_without_building_the_document(
    client, services, analyst, job_factory, statements, monkeypatch
):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "completed"}, headers=h)
    first = poll(client, job_id, h)
    etag = first.headers["etag"]
    built: list[str] = []
    real_part = services.tracking._settled  # the first half of every document built
    monkeypatch.setattr(
        services.tracking,
        "_settled",
        lambda job, *a, **k: built.append(job.job_id) or real_part(job, *a, **k),
    )
    statements.clear()
    again = poll(client, job_id, h, etag)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert built == []
    # answered from memory: the change feed vouches for the job, the token is cached
    assert statements == []
    # a job the feed does not vouch for: one narrow read (no artifacts, no queue, no job row)
    services.tracking.polled.forget([job_id])
    assert poll(client, job_id, h, etag).status_code == 304 and built == []
    assert len(statements) == 1 and "artifacts" not in statements[0], statements
    # a tag list and a weak form of the tag match too; another tag builds the document
    assert poll(client, job_id, h, f'"x", W/{etag}').status_code == 304
    other = poll(client, job_id, h, '"not-it"')
    assert other.status_code == 200 and other.headers["etag"] == etag
    assert other.json() == first.json()
    services.tracking.polled.forget([job_id])
    assert poll(client, job_id, h, '"not-it"').json() == first.json() and built == [job_id]


def test_a_change_or_another_viewer_changes_the_etag(
    client, services, analyst, user_factory, login, job_factory, clock
):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    etag = poll(client, job_id, h).headers["etag"]
    assert poll(client, job_id, h, etag).status_code == 304
    # a waiting job's document moves with the clock (its place, its ETA): a new second, a new tag
    clock.advance(1)
    moved = poll(client, job_id, h, etag)
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    etag = moved.headers["etag"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing", "progress": 5}, headers=h)
    r = poll(client, job_id, h, etag)
    assert r.status_code == 200 and r.json()["progress"] == 5
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "completed"}, headers=h)
    done = poll(client, job_id, h).headers["etag"]
    clock.advance(3600)  # a finished job's document no longer moves with the clock
    assert poll(client, job_id, h, done).status_code == 304
    # an admin sees the same job under a tag of their own; a stranger gets 404, not 304
    admin = login("admin", "admin-password")
    assert poll(client, job_id, admin, done).status_code == 200
    stranger = login(user_factory("analyst").username)
    r = poll(client, job_id, stranger, done)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_read_only_polls_write_nothing(client, analyst, job_factory, statements, settings):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    statements.clear()
    etag = None
    for i in range(5):
        if i == 3:  # the token's cached check runs out: the poll asks the database again
            time.sleep(settings.token_cache_seconds + 0.1)
        r = poll(client, job_id, h, etag)
        assert r.status_code in (200, 304)
        etag = r.headers["etag"]
    assert poll(client, "no-such-job", h).status_code == 404
    assert poll(client, "no-such-job", h, '"x"').status_code == 404
    assert statements, "the polls read something"
    wrote = [s for s in statements if s.upper().startswith(WRITES)]
    assert wrote == [] and all(s.upper().startswith(("SELECT", "PRAGMA")) for s in statements), (
        statements
    )


def test_a_revocation_elsewhere_and_an_expiry_reach_the_poll(
    client, settings, analyst, job_factory, clock
):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    assert poll(client, job_id, h).status_code == 200  # the token is cached now
    other = Services(ServiceContext.from_settings(settings, clock=clock))  # another process
    try:
        token = h["Authorization"].split()[1]
        _, token_id = other.accounts.user_for_token(token)
        other.accounts.revoke(token_id)
    finally:
        other.ctx.db.dispose()
    time.sleep(settings.token_cache_seconds + 0.1)
    r = poll(client, job_id, h)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def test_an_expired_token_is_refused_by_the_poll(client, settings, analyst, job_factory, clock):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    etag = poll(client, job_id, h).headers["etag"]
    clock.advance(settings.token_ttl_hours * 3600 + 1)
    r = poll(client, job_id, h, etag)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def test_the_poll_reads_off_the_event_loop(client, services, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    on_loop: list[bool] = []

    def record(*_: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)

    event.listen(services.ctx.db.engine, "before_cursor_execute", record)
    try:
        etag = poll(client, job_id, h).headers["etag"]
        assert poll(client, job_id, h, etag).status_code == 304
        assert poll(client, "no-such-job", h).status_code == 404
    finally:
        event.remove(services.ctx.db.engine, "before_cursor_execute", record)
    assert on_loop and not any(on_loop), on_loop


def test_a_polled_job_is_checked_by_its_stamp_and_a_change_elsewhere_shows(
    client, services, settings, analyst, user_factory, login, job_factory, statements, clock
):
    user, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing", "progress": 5}, headers=h)
    first = poll(client, job_id, h)
    assert first.status_code == 200 and first.json()["progress"] == 5
    services.tracking.polled.forget([job_id])  # as if the feed had shown a change
    statements.clear()
    again = poll(client, job_id, h)  # kept: one narrow read, neither the job row nor its files
    assert again.status_code == 200 and again.json() == first.json()
    assert len(statements) == 1 and "artifacts" not in statements[0], statements
    statements.clear()
    assert poll(client, job_id, h).json() == first.json() and statements == []  # vouched again
    # a change made by another process (its own services, the same database) shows once this
    # process's change-feed reader has read it: within its interval
    other = Services(ServiceContext.from_settings(settings, clock=clock))
    try:
        other.tracking.report(user, job_id, Report(progress=40, message="halfway there"))
    finally:
        other.ctx.db.dispose()
    changed = time.monotonic()
    while (moved := poll(client, job_id, h).json())["progress"] != 40:
        assert time.monotonic() - changed < 10 * settings.event_poll_interval + 2, moved
        time.sleep(0.01)
    assert moved["message"] == "halfway there"
    # the records kept for one viewer open nothing to another
    stranger = login(user_factory("analyst").username)
    r = poll(client, job_id, stranger)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert poll(client, job_id, stranger).status_code == 404  # and again, its owners known


def test_a_manager_polls_the_team_from_memory_and_others_not_at_all(
    client, services, user_factory, login, job_factory, statements
):
    manager = user_factory("manager")
    member = user_factory("analyst", manager=manager.username)
    outsider = user_factory("analyst")
    mh, oh = login(manager.username), login(outsider.username)
    job_id = job_factory(login(member.username))["job_id"]
    first = poll(client, job_id, mh)
    assert first.status_code == 200
    statements.clear()
    assert poll(client, job_id, mh, first.headers["etag"]).status_code == 304
    assert statements == []
    for _ in range(2):
        r = poll(client, job_id, oh)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_a_change_through_this_process_shows_at_once(client, services, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    etag = poll(client, job_id, h).headers["etag"]
    assert services.tracking.polled.vouched(job_id) is not None
    client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h)
    r = poll(client, job_id, h, etag)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def _kept(size: int, **kw: Any) -> RecordCache:
    kept = RecordCache(size, **kw)
    kept.feed_read()
    return kept


def _keep(kept: RecordCache, job: Any, epoch: int | None = None, **kw: Any) -> None:
    epoch = kept.epoch if epoch is None else epoch
    kept.keep(job, [], from_kept=False, position=None, epoch=epoch, **kw)


def test_the_kept_records_are_bounded_and_the_least_recent_go_first(
    client, services, analyst, job_factory
):
    user, h = analyst
    jobs = [services.tracking.get_job(user, job_factory(h)["job_id"]) for _ in range(3)]
    kept = _kept(2)
    for job in jobs:
        _keep(kept, job)
    assert len(kept) == 2 and jobs[0].job_id not in kept
    assert kept.get(jobs[1].job_id, stamp_of(jobs[1])) == (jobs[1], [])
    _keep(kept, jobs[0])  # jobs[1] was read last, so jobs[2] goes
    assert jobs[2].job_id not in kept and jobs[1].job_id in kept
    newer = (jobs[1].version + 1, jobs[1].updated_at, jobs[1].status)
    assert kept.get(jobs[1].job_id, newer) is None  # another stamp: not these records
    none = _kept(0)
    _keep(none, jobs[0])
    assert jobs[0].job_id not in none


def test_what_the_feed_vouches_for(client, services, analyst, job_factory):
    user, h = analyst
    a, b = (services.tracking.get_job(user, job_factory(h)["job_id"]) for _ in range(2))
    kept = _kept(10)
    _keep(kept, a)
    assert kept.vouched(a.job_id) is not None
    # a read begun before a change was forgotten vouches for nothing
    epoch = kept.epoch
    kept.forget([b.job_id])
    _keep(kept, a, epoch=epoch)
    assert kept.vouched(a.job_id) is None and kept.get(a.job_id, stamp_of(a)) == (a, [])
    kept.revouch(a.job_id, stamp_of(a), kept.epoch)  # its stamp checked again
    assert kept.vouched(a.job_id) is not None
    # a waiting job's place moves with any other job's change
    waiting = a.evolve(claimable=True)
    _keep(kept, waiting)
    _keep(kept, b)
    kept.forget(["some-other-job"])
    assert kept.vouched(a.job_id) is None and kept.vouched(b.job_id) is not None
    kept.revouch(a.job_id, stamp_of(waiting), kept.epoch)  # no place read: still not
    assert kept.vouched(a.job_id) is None
    # a reader that has gone quiet vouches for nothing
    quiet = _kept(10, silence=0.05)
    _keep(quiet, b)
    assert quiet.vouched(b.job_id) is not None
    time.sleep(0.1)
    assert quiet.vouched(b.job_id) is None
    _keep(quiet, b)
    assert quiet.vouched(b.job_id) is None
    quiet.feed_read()
    _keep(quiet, b)
    assert quiet.vouched(b.job_id) is not None


def test_a_running_job_from_memory_in_a_new_second_is_the_document_built_afresh(
    client, services, settings, analyst, job_factory, clock, statements
):
    _, h = analyst
    job_id = job_factory(h, duration_total=100, unit="audio_seconds")["job_id"]
    for progress in (10, 30):  # two reports: a pace to estimate from
        body = {"status": "processing", "progress": progress, "duration_processed": progress}
        assert client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=h).status_code == 200
        clock.advance(2)
    first = poll(client, job_id, h).json()
    assert first["eta_seconds"] is not None and not first["stalled"]
    for seconds in (3, settings.stall_after):  # the ETA counts down; then it stalls
        clock.advance(seconds)
        statements.clear()
        from_memory = poll(client, job_id, h).json()
        assert statements == []
        services.tracking.polled.forget([job_id])
        assert from_memory == poll(client, job_id, h).json()  # read and built afresh
    assert from_memory["stalled"] and from_memory["eta_seconds"] < first["eta_seconds"]


def test_the_poll_route_answers_as_every_route_does(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    url = f"/api/v1/jobs/{job_id}/status"
    r = poll(client, job_id, h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content) and r.headers["cache-control"]
    # the edge's headers, as on every answer
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    head = client.head(url, headers=h)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == r.headers["etag"]
    same = poll(client, job_id, h, r.headers["etag"])
    assert same.status_code == 304 and same.content == b"" and "content-type" not in same.headers
    # the page's session cookie signs a poll in as the bearer token does
    token = h["Authorization"].split()[1]
    client.cookies.set(SESSION_COOKIE, token)
    try:
        assert client.get(url).json() == r.json()
    finally:
        client.cookies.clear()
    for refused, status in ((client.get(url), 401), (client.post(url, headers=h), 405)):
        assert refused.status_code == status and refused.headers["content-type"] == PROBLEM
    garbled = client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert garbled.status_code == 401 and garbled.headers["content-type"] == PROBLEM


def test_a_watched_job_is_renewed_before_its_vouching_lapses(
    client, settings, analyst, job_factory, clock
):
    user, h = analyst
    watched, changed, idle = (job_factory(h)["job_id"] for _ in range(3))
    reader = Services(ServiceContext.from_settings(settings, clock=clock))  # another process
    try:
        kept = reader.tracking.polled
        kept.feed_read()  # its change-feed reader is live (it is not running: the test is)
        for job_id in (watched, changed, idle):
            reader.tracking.poll_encoded(user, job_id)
        aged = time.monotonic() - RENEW_AFTER_SECONDS - 1
        for job_id in (watched, changed, idle):
            item = kept.vouched(job_id)  # a poll from memory: the job is watched
            assert item is not None
            item.vouched_at = aged
        item.served_at = aged - 1  # ...but not the idle one, not since it was vouched for
        # a change its feed has not shown yet
        r = client.patch(f"/api/v1/jobs/{changed}", json={"status": "processing"}, headers=h)
        assert r.status_code == 200
        reader.tracking.feed_read()  # the reader's pass: the due stamps read in one go
        renewed = kept.vouched(watched)
        assert renewed is not None and renewed.vouched_at > aged
        assert kept.vouched(changed) is None  # its stamp moved: its next poll reads it
        assert kept.vouched(idle) is not None and kept.vouched(idle).vouched_at == aged
        _, body = reader.tracking.poll_encoded(user, changed)
        assert body is not None and b'"status":"processing"' in body
    finally:
        reader.ctx.db.dispose()


def test_a_token_polled_steadily_is_renewed_in_the_background_until_revoked(
    client, make_settings, analyst, clock
):
    user, h = analyst
    token = h["Authorization"].split()[1]
    ttl = 1.0  # wide margins around its halves on a busy machine
    settings = make_settings(token_cache_seconds=ttl)
    mine = Services(ServiceContext.from_settings(settings, clock=clock))
    other = Services(ServiceContext.from_settings(settings, clock=clock))  # another process
    try:
        acc = mine.accounts
        queued: list[Any] = []
        _, token_id = acc.user_for_token(token)
        acc.learn_owners(user)
        assert acc.known_token(token, queued.append) is not None and queued == []  # fresh
        time.sleep(ttl / 2 + 0.05)
        assert acc.known_token(token, queued.append) is not None
        assert acc.known_owners(user, queued.append) is not None
        assert acc.known_token(token, queued.append) is not None  # once while it runs
        assert len(queued) == 2
        for renew in queued:
            renew()
        queued.clear()
        time.sleep(ttl / 2 + 0.05)  # past the first check's age: known by its renewal
        assert acc.known_token(token, queued.append) is not None and len(queued) == 1
        other.accounts.revoke(token_id)
        queued[0]()  # the renewal finds the revocation
        assert acc.known_token(token, queued.append) is None
        assert acc.user_for_token(token) is None
    finally:
        mine.ctx.db.dispose()
        other.ctx.db.dispose()

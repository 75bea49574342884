"""One change-feed reader per process, fanning job changes out to live subscribers.

Every job change writes a row to ``job_events`` (store.jobs.record_change). One reader task
per process reads the new rows -- at least every ``event_poll_interval`` on SQLite, and as
soon as a NOTIFY arrives on PostgreSQL -- builds each changed job's status document once
and hands the same pre-formatted SSE frame to every subscriber allowed to see it. A thousand
browsers cost one query per tick, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sse_starlette import ServerSentEvent

from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.store import events as feed
from stagecoach.store import jobs as jobs_store
from stagecoach.store.wakeups import listen_dsn

log = logging.getLogger("stagecoach.events")

QUEUE_LIMIT = 500
"""Frames a subscriber may have waiting; a client that falls further behind is dropped and
reconnects with Last-Event-ID."""
PG_LOOKBACK_SECONDS = 2.0
"""PostgreSQL hands out event ids before commit, so a lower id can appear after a higher
one; the reader re-reads this far back and skips what it already sent."""
FEED_BATCH = 5000
"""Feed rows read at once; a reader further behind reads again at once."""
PG_SAFETY_POLL_SECONDS = 1.0
"""On PostgreSQL the reader also reads the feed this often, in case a NOTIFY was missed."""


@dataclass(frozen=True)
class Event:
    event_id: int
    job_id: str
    owner_id: str
    frame: bytes


def sse_frame(event_id: int, data: str) -> bytes:
    return ServerSentEvent(data=data, id=str(event_id), event="status").encode()


def document_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


@dataclass(eq=False)
class Subscription:
    owners: frozenset[str] | None  # None: every job (admin)
    job_id: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    dropped: bool = False

    def wants(self, ev: Event) -> bool:
        if self.job_id is not None and ev.job_id != self.job_id:
            return False
        return self.owners is None or ev.owner_id in self.owners


DocumentsFn = Callable[[list[str]], dict[str, dict[str, Any]]]
"""job ids -> their status documents (services.tracking.Tracking.documents_by_id: the one
builder the poll uses too), for the jobs that still exist."""


class EventBroker:
    def __init__(
        self,
        ctx: ServiceContext,
        documents: DocumentsFn,
        *,
        on_changes: Callable[[list[str]], None] = lambda _ids: None,
        on_read: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_changes``: the ids of jobs the feed showed changed; ``on_read``: the feed
        was read through (every change in it was given to ``on_changes``). The status
        poll's kept records follow both."""
        self.ctx = ctx
        self._documents = documents
        self._on_changes = on_changes
        self._on_read = on_read
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._started: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cursor = 0
        self._base = 0  # PostgreSQL: the cursor as it was PG_LOOKBACK_SECONDS ago
        self._sent: set[int] = set()
        self._marks: deque[tuple[float, int]] = deque()
        self._closing = False
        self._commit_hook = False

    # --- subscribers ---------------------------------------------------------------------
    async def subscribe(self, viewer: User, job_id: str | None = None) -> Subscription:
        await self.start()
        owners = await asyncio.to_thread(self._owners, viewer)
        sub = Subscription(owners=owners, job_id=job_id)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def last_event_id(self) -> int:
        """The change feed's newest id: a page rendered now passes it to its event stream,
        which then replays whatever changed between the render and the connection."""
        return self._last_id()

    def _owners(self, viewer: User) -> frozenset[str] | None:
        with self.ctx.db.read() as conn:
            return feed.visible_owner_ids(conn, viewer)

    # --- documents -------------------------------------------------------------------------
    def documents(self, job_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """job_id -> (owner_id, status JSON) for the jobs that still exist."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {}
        docs = self._documents(ids)
        return {jid: (d["owner_id"], document_json(d)) for jid, d in docs.items()}

    def missed(self, viewer: User, after_id: int, job_id: str | None = None) -> list[Event]:
        """What a client reconnecting with Last-Event-ID missed: each changed job's current
        state once, under the id of its newest change."""
        with self.ctx.db.read() as conn:
            latest = feed.latest_event_per_job(conn, viewer, after_id, job_id=job_id)
        docs = self.documents(j for _, j in latest)
        return [
            Event(eid, jid, docs[jid][0], sse_frame(eid, docs[jid][1]))
            for eid, jid in latest
            if jid in docs
        ]

    def current(self, job_id: str) -> Event | None:
        """A job's current state under the id of its newest change."""
        with self.ctx.db.read() as conn:
            eid = feed.latest_event_of_job(conn, job_id)
        docs = self.documents([job_id])
        if job_id not in docs:
            return None
        return Event(eid, job_id, docs[job_id][0], sse_frame(eid, docs[job_id][1]))

    # --- the reader ------------------------------------------------------------------------
    async def start(self) -> None:
        """Start this process's reader (if it is not running on this loop already)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._subs.clear()
            self._wake = asyncio.Event()
            self._started = asyncio.Event()
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="stagecoach-event-reader")
            self._watch_local_commits()
        assert self._started is not None
        await self._started.wait()

    async def _run(self) -> None:
        assert self._wake is not None and self._started is not None
        self._cursor = self._base = await asyncio.to_thread(self._last_id)
        # What was read before the cursor was taken may hold a change the reader will never
        # show: on_changes (of none) says so to whatever was reading then.
        self._on_changes([])
        self._sent.clear()
        self._marks.clear()
        self._started.set()
        on_pg = not self.ctx.db.is_sqlite
        if on_pg:
            self._listener = asyncio.create_task(self._listen(), name="stagecoach-event-listen")
        interval = PG_SAFETY_POLL_SECONDS if on_pg else self.ctx.settings.event_poll_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                events, more = await asyncio.to_thread(self._read_new, on_pg)
            except Exception:  # a database hiccup must not end live updates for good
                log.exception("reading the change feed failed; retrying")
                await asyncio.sleep(interval)
                continue
            self._publish(events)
            if more:
                self._wake.set()

    def _watch_local_commits(self) -> None:
        """A write committed by this very process wakes the reader at once; other
        processes' writes are found by the poll (SQLite) or NOTIFY (PostgreSQL)."""
        if self._commit_hook:
            return
        loop = self._loop

        # The "commit" event fires before the commit lands, so it only marks the connection;
        # the wake-up comes when the connection goes back to the pool, committed.
        def on_commit(conn: Any) -> None:
            if conn.get_execution_options().get("write"):
                conn.info["stagecoach_wrote"] = True

        def on_checkin(_dbapi_conn: Any, record: Any) -> None:
            if record is None or not record.info.pop("stagecoach_wrote", False):
                return
            wake = self._wake
            if wake is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

        sa_event.listen(self.ctx.db.engine, "commit", on_commit)
        sa_event.listen(self.ctx.db.engine.pool, "checkin", on_checkin)
        self._commit_hook = True

    def _last_id(self) -> int:
        with self.ctx.db.read_each() as conn:
            return feed.last_event_id(conn)

    def _read_new(self, lookback: bool) -> tuple[list[Event], bool]:
        """The new changes, as events for the subscribers (none without subscribers), and
        whether the feed holds more than one read took."""
        floor = self._cursor
        if lookback:
            now = time.monotonic()
            while self._marks and now - self._marks[0][0] > PG_LOOKBACK_SECONDS:
                self._base = self._marks.popleft()[1]
            floor = self._base
        with self.ctx.db.read_each() as conn:  # one statement, every interval: no BEGIN
            rows = feed.events_after(conn, floor, limit=FEED_BATCH)
        more = len(rows) == FEED_BATCH
        if lookback:
            rows = [r for r in rows if r["event_id"] not in self._sent]
            self._sent = {e for e in self._sent if e > floor}
            self._sent.update(r["event_id"] for r in rows)
        if rows:
            self._cursor = max(self._cursor, max(r["event_id"] for r in rows))
        if lookback:
            self._marks.append((time.monotonic(), self._cursor))
        newest: dict[str, int] = {}
        for r in rows:
            newest[r["job_id"]] = max(newest.get(r["job_id"], 0), r["event_id"])
        if newest:
            self._on_changes(list(newest))
        if not more:
            self._on_read()
        if not newest or not self._subs:
            return [], more
        docs = self.documents(newest)
        events = [
            Event(eid, jid, docs[jid][0], sse_frame(eid, docs[jid][1]))
            for jid, eid in newest.items()
            if jid in docs
        ]
        events.sort(key=lambda e: e.event_id)
        return events, more

    def _publish(self, events: list[Event]) -> None:
        for ev in events:
            for sub in list(self._subs):
                if not sub.wants(ev):
                    continue
                try:
                    sub.queue.put_nowait(ev)
                except asyncio.QueueFull:
                    self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        sub.dropped = True
        self._subs.discard(sub)
        with contextlib.suppress(asyncio.QueueEmpty):
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    async def _listen(self) -> None:
        """PostgreSQL: LISTEN on the jobs channel and wake the reader on each NOTIFY."""
        import psycopg

        dsn = listen_dsn(self.ctx.db.url)
        while not self._closing:
            try:
                aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                async with aconn:
                    await aconn.execute(f"LISTEN {jobs_store.NOTIFY_CHANNEL}")
                    if self._wake is not None:
                        self._wake.set()  # catch up on anything before LISTEN took hold
                    async for _notify in aconn.notifies():
                        if self._wake is not None:
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)

    # --- shutdown --------------------------------------------------------------------------
    def close_streams(self) -> None:
        """End every open stream (the server is shutting down); clients will reconnect."""
        for sub in list(self._subs):
            self._drop(sub)

    async def aclose(self) -> None:
        self._closing = True
        self.close_streams()
        for task in (self._listener, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._listener = None

"""Server-Sent Events: /api/v1/jobs/{job_id}/events and /api/v1/events (sse-starlette).

Each event carries ``id:`` = the change feed's event id and ``data:`` = the status document.
A client reconnecting with ``Last-Event-ID`` first gets the current state of every job that
changed since that id, then live changes. Comments every ``HEARTBEAT_SECONDS`` keep proxies
from closing an idle stream. A stream ends when its token stops being good (revoked,
expired), within ``sessions.CHECK_SECONDS``, and when the server stops (sse-starlette).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from stagecoach.api.deps import CurrentAuth, ServicesDep
from stagecoach.domain.records import User
from stagecoach.events.broker import Event, EventBroker
from stagecoach.events.sessions import StreamSessions

router = APIRouter(prefix="/api/v1", tags=["events"])

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
WAKE_SECONDS = 1.0
"""How often a quiet stream looks up from its queue to see whether its token went bad."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _parse_last_id(header: str | None, query: int | None) -> int | None:
    if header is not None:
        try:
            return max(0, int(header.strip()))
        except ValueError:
            return None
    return query


def stream_sessions(request: Request) -> StreamSessions:
    state = request.app.state
    found: StreamSessions | None = getattr(state, "stream_sessions", None)
    if found is None:
        found = state.stream_sessions = StreamSessions(state.services.accounts.live_tokens)
    return found


async def event_stream(
    broker: EventBroker,
    viewer: User,
    *,
    job_id: str | None,
    last_event_id: int | None,
    ended: asyncio.Event | None = None,
) -> AsyncIterator[bytes | ServerSentEvent]:
    """The stream's frames: the retry hint, the replay, then live changes until the
    subscription is dropped (too slow, server stopping) or ``ended`` is set."""
    ended = ended or asyncio.Event()
    sub = await broker.subscribe(viewer, job_id)
    try:
        yield ServerSentEvent(retry=RETRY_MS)
        replay: list[Event] = []
        if last_event_id is not None:
            replay = await asyncio.to_thread(broker.missed, viewer, last_event_id, job_id)
        elif job_id is not None:
            now = await asyncio.to_thread(broker.current, job_id)
            replay = [now] if now is not None else []
        replayed = max([e.event_id for e in replay], default=last_event_id or 0)
        for ev in replay:
            yield ev.frame
        while not ended.is_set():
            try:
                ev_or_end = await asyncio.wait_for(sub.queue.get(), timeout=WAKE_SECONDS)
            except TimeoutError:
                continue
            if ev_or_end is None:  # dropped (too slow) or the server is stopping
                return
            # Live events the replay already covered are skipped; later ones always go out,
            # even when PostgreSQL commits a lower id late.
            if ev_or_end.event_id <= replayed:
                continue
            yield ev_or_end.frame
    finally:
        broker.unsubscribe(sub)


def _response(
    request: Request,
    services: ServicesDep,
    auth: tuple[User, str],
    *,
    job_id: str | None,
    last_event_id: int | None,
) -> EventSourceResponse:
    user, token_id = auth
    sessions = stream_sessions(request)

    async def frames() -> AsyncIterator[bytes | ServerSentEvent]:
        ended = sessions.watch(token_id)
        try:
            async for frame in event_stream(
                services.events, user, job_id=job_id, last_event_id=last_event_id, ended=ended
            ):
                yield frame
        finally:
            sessions.unwatch(token_id, ended)

    return EventSourceResponse(
        frames(),
        headers=SSE_HEADERS,
        ping=HEARTBEAT_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="keepalive"),
    )


@router.get("/jobs/{job_id}/events")
async def job_events(
    request: Request,
    job_id: str,
    auth: CurrentAuth,
    services: ServicesDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> EventSourceResponse:
    """Live status of one job."""
    await asyncio.to_thread(services.tracking.get_job, auth[0], job_id)  # 404 unless visible
    return _response(
        request,
        services,
        auth,
        job_id=job_id,
        last_event_id=_parse_last_id(last_event_id_header, last_event_id),
    )


@router.get("/events")
async def all_events(
    request: Request,
    auth: CurrentAuth,
    services: ServicesDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> EventSourceResponse:
    """Live status of every job the caller may see (their own; a manager's team's too)."""
    return _response(
        request,
        services,
        auth,
        job_id=None,
        last_event_id=_parse_last_id(last_event_id_header, last_event_id),
    )

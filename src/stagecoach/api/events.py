"""Server-Sent Events: /api/v1/jobs/{job_id}/events and /api/v1/events.

Each event carries ``id:`` = the change feed's event id and ``data:`` = the status document.
A client reconnecting with ``Last-Event-ID`` first gets the current state of every job that
changed since that id, then live changes. Comments every ``HEARTBEAT_SECONDS`` keep proxies
from closing an idle stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from stagecoach.api.deps import CurrentUser, ServicesDep
from stagecoach.domain.records import User
from stagecoach.events.broker import Event, EventBroker
from stagecoach.events.shutdown import end_streams_on_exit

router = APIRouter(prefix="/api/v1", tags=["events"])

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _parse_last_id(header: str | None, query: int | None) -> int | None:
    if header is not None:
        try:
            return max(0, int(header.strip()))
        except ValueError:
            return None
    return query


async def event_stream(
    broker: EventBroker,
    viewer: User,
    *,
    job_id: str | None,
    last_event_id: int | None,
    heartbeat: float | None = None,
) -> AsyncIterator[bytes]:
    heartbeat = heartbeat or HEARTBEAT_SECONDS
    end_streams_on_exit(broker)
    sub = await broker.subscribe(viewer, job_id)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        replay: list[Event] = []
        if last_event_id is not None:
            replay = await asyncio.to_thread(broker.missed, viewer, last_event_id, job_id)
        elif job_id is not None:
            now = await asyncio.to_thread(broker.current, job_id)
            replay = [now] if now is not None else []
        replayed = max([e.event_id for e in replay], default=last_event_id or 0)
        for ev in replay:
            yield ev.frame
        while True:
            try:
                ev_or_end = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield b": keepalive\n\n"
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


@router.get("/jobs/{job_id}/events")
async def job_events(
    job_id: str,
    user: CurrentUser,
    services: ServicesDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """Live status of one job."""
    await asyncio.to_thread(services.tracking.get_job, user, job_id)  # 404 unless visible
    stream = event_stream(
        services.events,
        user,
        job_id=job_id,
        last_event_id=_parse_last_id(last_event_id_header, last_event_id),
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/events")
async def all_events(
    user: CurrentUser,
    services: ServicesDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """Live status of every job the caller may see (their own; a manager's team's too)."""
    stream = event_stream(
        services.events,
        user,
        job_id=None,
        last_event_id=_parse_last_id(last_event_id_header, last_event_id),
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

"""End open event streams whose token stops being good (revoked, expired, user disabled).

An event stream is authenticated once, when it opens, and may then stay open for hours. Every
``CHECK_SECONDS`` one task per process asks the database (not the token cache) which of the
open streams' tokens are still good, in one query for all of them, and flags the others; their
streams then end. A revocation made by any process thus ends the streams of every process
within a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

log = logging.getLogger("stagecoach.events")

CHECK_SECONDS = 2.0


class StreamSessions:
    def __init__(self, live_tokens: Callable[[Iterable[str]], set[str]]) -> None:
        self._live_tokens = live_tokens
        self._open: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, token_id: str) -> asyncio.Event:
        """An event set once ``token_id`` is no longer good; unwatch it when the stream ends."""
        ended = asyncio.Event()
        self._open.setdefault(token_id, set()).add(ended)
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.create_task(self._run(), name="stagecoach-stream-sessions")
        return ended

    def unwatch(self, token_id: str, ended: asyncio.Event) -> None:
        events = self._open.get(token_id)
        if events is not None:
            events.discard(ended)
            if not events:
                del self._open[token_id]

    async def _run(self) -> None:
        while self._open:  # the task ends with the last stream, and starts again with a new one
            await asyncio.sleep(CHECK_SECONDS)
            ids = list(self._open)
            if not ids:
                break
            try:
                good = await asyncio.to_thread(self._live_tokens, ids)
            except Exception:  # a database hiccup must not end every stream
                log.warning("checking the event streams' tokens failed", exc_info=True)
                continue
            for token_id in ids:
                if token_id not in good:
                    for ended in self._open.get(token_id, ()):
                        ended.set()

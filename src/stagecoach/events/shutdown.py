"""End open event streams when uvicorn is asked to stop.

uvicorn waits for every in-flight response before it shuts down, and an event stream never
finishes by itself, so Ctrl+C would hang. We wrap ``uvicorn.Server.handle_exit`` (as
sse-starlette does) to end the streams first; browsers then reconnect to another process.
"""

from __future__ import annotations

import weakref
from typing import Any

from stagecoach.events.broker import EventBroker

_brokers: weakref.WeakSet[EventBroker] = weakref.WeakSet()
_installed = False


def end_streams_on_exit(broker: EventBroker) -> None:
    """End this broker's streams when the server is asked to stop."""
    _brokers.add(broker)


def install_exit_hook() -> None:
    """Wrap uvicorn's exit handler; must run before the server starts (it binds the handler
    to the signals then), so the app factory calls it."""
    global _installed
    if _installed:
        return
    try:
        from uvicorn.server import Server
    except ImportError:  # served by something else
        return
    original = Server.handle_exit

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        for b in list(_brokers):
            loop = b._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(b.close_streams)
        original(self, sig, frame)

    Server.handle_exit = handle_exit  # type: ignore[method-assign]
    _installed = True

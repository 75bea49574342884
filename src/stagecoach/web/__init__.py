"""The web pages: server-rendered Jinja2 templates with a little plain JavaScript."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and the live-event endpoints to an app."""
    from stagecoach.api import events
    from stagecoach.web import pages
    from stagecoach.web.deps import SignInRequired, login_redirect

    app.include_router(events.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        return login_redirect(exc)

"""The app factory: everything is built here from the settings, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from stagecoach import __version__, web
from stagecoach.api import auth, cases, files, health, jobs, problems, uploads
from stagecoach.api.limits import BodyLimit
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings

UPLOAD_PATHS = ("/api/v1/upload", "/upload")


def create_app(settings: Settings | None = None, *, services: Services | None = None,
               embedded_worker: bool = False) -> FastAPI:
    settings = settings or Settings()
    services = services or Services(ServiceContext.from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.ctx.db.dispose()

    app = FastAPI(
        title="stagecoach",
        version=__version__,
        description="Track files through processing: status, stage, progress, time left.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.embedded_worker = embedded_worker
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024, exempt=UPLOAD_PATHS)
    for module in (health, auth, jobs, uploads, files, cases):
        app.include_router(module.router)
    web.install(app)  # pages, static files and live events
    return app

"""The app factory: everything is built here from the settings, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from stagecoach import __version__, web
from stagecoach.api import (
    auth,
    cases,
    compat,
    docs,
    files,
    health,
    jobs,
    metrics,
    openapi,
    poll,
    problems,
    results,
    uploads,
)
from stagecoach.api.edge import Edge
from stagecoach.api.limits import BodyLimit
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings

UPLOAD_PATHS = ("/api/v1/upload", "/upload")


class ConfigError(RuntimeError):
    """The settings cannot serve: the message says what to set."""


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    embedded_worker: bool = False,
    pipelines: Mapping[str, Any] | None = None,
) -> FastAPI:
    """``embedded_worker``: run a worker inside this process for the app's lifetime, over
    ``pipelines`` (default: the installed ones)."""
    settings = settings or Settings()
    missing = settings.shared_secret_missing()
    if missing is not None:
        raise ConfigError(missing)
    services = services or Services(ServiceContext.from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = calibration = None
        if embedded_worker:
            from stagecoach.services.calibration import Calibration
            from stagecoach.worker.worker import Worker

            worker = Worker(
                services.ctx,
                services.storage,
                pipelines if pipelines is not None else services.pipelines,
                cleanups=[services.uploads.fail_abandoned],
            )
            worker.start()
            if settings.calibrate:
                calibration = Calibration(services.ctx, worker.pipelines)
                calibration.start()
        app.state.worker = worker
        # The change-feed reader: live events, and the polls answered from memory.
        await services.events.start()
        try:
            yield
        finally:
            await services.events.aclose()
            if calibration is not None:
                calibration.stop()
            if worker is not None:
                worker.stop()
            # its threads end; a fresh pool (no threads until used) serves a later start
            app.state.poll_pool.shutdown(wait=False, cancel_futures=True)
            app.state.poll_pool = poll.thread_pool(settings.poll_threads)
            services.ctx.db.dispose()

    app = FastAPI(
        title="stagecoach",
        version=__version__,
        description="Track files through processing: status, stage, progress, time left.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks asked the global providers on every request (a
        # tenth of a poll answered from memory); stagecoach's figures are at /metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_tags=[compat.OPENAPI_TAG],
        docs_url=None,  # api/docs.py serves it from the package, offline
        redoc_url=None,  # it, too, would load from a CDN; /docs is the one documented
    )
    app.state.settings = settings
    app.state.services = services
    app.state.embedded_worker = embedded_worker
    app.state.poll_pool = poll.thread_pool(settings.poll_threads)
    problems.install(app)
    openapi.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024, exempt=UPLOAD_PATHS)
    app.router.routes.append(poll.route)  # the hottest path, matched first
    for module in (health, auth, jobs, uploads, files, cases, results, metrics, compat):
        app.include_router(module.router)
    docs.install(app)
    web.install(app)  # pages, static files and live events
    app.add_middleware(Edge)  # outermost: NUL refusal and security headers on every answer
    return app

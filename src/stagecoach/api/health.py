"""/healthz: the process is up and the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from stagecoach.api.deps import ServicesDep
from stagecoach.api.problems import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    try:
        services.ctx.db.ping()
    except Exception as exc:  # the point is to report any failure, not to raise it
        return problem(503, f"database unreachable: {type(exc).__name__}")
    return JSONResponse({"status": "ok", "database": services.ctx.db.engine.dialect.name})

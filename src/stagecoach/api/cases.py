"""/api/v1/cases: the case names the caller may see, and the jobs of one case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stagecoach.api.deps import CurrentUser, ServicesDep

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.get("")
def list_cases(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return {"cases": services.cases.list_cases(user)}


@router.get("/{case_name:path}/jobs")
def case_jobs(case_name: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.cases.case_jobs(user, case_name)

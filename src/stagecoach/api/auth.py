"""/api/v1/auth, /api/v1/me and /api/v1/users: tokens and accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from stagecoach.api.deps import AdminUser, CurrentAuth, CurrentUser, ServicesDep
from stagecoach.api.schemas import Token, UserCreate, UserOut
from stagecoach.domain.contract import iso
from stagecoach.domain.records import User

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def user_out(u: User) -> dict[str, Any]:
    return {
        "user_id": u.user_id,
        "username": u.username,
        "role": str(u.role),
        "manager_id": u.manager_id,
        "created_at": iso(u.created_at),
    }


@router.post(
    "/auth/token",
    response_model=Token,
    responses={429: {"description": "Too many failed sign-ins (Retry-After says when)"}},
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
) -> dict[str, str]:
    client = request.client.host if request.client else None
    return {
        "access_token": services.accounts.login(form.username, form.password, client=client),
        "token_type": "bearer",
    }


@router.post("/auth/revoke", status_code=204)
def revoke(auth: CurrentAuth, services: ServicesDep) -> Response:
    """Revoke the token this request was made with."""
    services.accounts.revoke(auth[1])
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> dict[str, Any]:
    return user_out(user)


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserCreate, _admin: AdminUser, services: ServicesDep) -> dict[str, Any]:
    return user_out(
        services.accounts.create_user(body.username, body.password, body.role, body.manager)
    )


@router.get("/users", response_model=list[UserOut])
def list_users(_admin: AdminUser, services: ServicesDep) -> list[dict[str, Any]]:
    return [user_out(u) for u in services.accounts.list_users()]

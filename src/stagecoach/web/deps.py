"""Page dependencies: who is signed in (by session cookie only), or a redirect to /login."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from stagecoach.api.deps import ServicesDep
from stagecoach.domain.records import User
from stagecoach.web.security import SESSION_COOKIE


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def page_auth_optional(request: Request, services: ServicesDep) -> tuple[User, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    return services.accounts.user_for_token(token) if token else None


def page_auth(
    request: Request, found: Annotated[tuple[User, str] | None, Depends(page_auth_optional)]
) -> tuple[User, str]:
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return found


def page_user(auth: Annotated[tuple[User, str], Depends(page_auth)]) -> User:
    return auth[0]


OptionalPageAuth = Annotated[tuple[User, str] | None, Depends(page_auth_optional)]
PageAuth = Annotated[tuple[User, str], Depends(page_auth)]
PageUser = Annotated[User, Depends(page_user)]


def login_redirect(exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths: '/jobs/x' yes, '//evil.example' and 'https://...' no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target

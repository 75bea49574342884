"""Request dependencies: the services and the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from stagecoach.domain.records import Role, User
from stagecoach.services.errors import Forbidden, Unauthorized
from stagecoach.services.registry import Services

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


SESSION_COOKIE = "stagecoach_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer`` header, or ""."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_user(services: Services, authorization: str, session: str) -> tuple[User, str]:
    """The caller's user and token id, from a bearer token or else the page's session."""
    # Pages authenticate with their session cookie; the API accepts it too.
    token = bearer_token(authorization) or session
    if not token:
        raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
    found = services.accounts.user_for_token(token.strip())
    if found is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    return found


def authenticate(request: Request, services: Services) -> tuple[User, str]:
    """The caller. A state-changing request signed in by the session cookie must carry the
    page's CSRF token in ``X-CSRF-Token``: a browser sends the cookie with a request forged
    by another port or a sibling subdomain of this host, which SameSite=Lax lets through.
    Bearer tokens are never sent by a browser on its own, so they need no such check."""
    authorization = request.headers.get("authorization", "")
    found = token_user(services, authorization, request.cookies.get(SESSION_COOKIE, ""))
    if request.method not in SAFE_METHODS and not bearer_token(authorization):
        from stagecoach.web.security import csrf_ok  # the pages own the token's signing

        if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
            raise Forbidden(
                f"a request signed in by the session cookie must carry the page's CSRF "
                f"token in the {CSRF_HEADER} header (or use 'Authorization: Bearer')"
            )
    return found


def current_auth(
    request: Request, services: ServicesDep, _token: Annotated[str | None, Depends(oauth2)]
) -> tuple[User, str]:
    # `_token` only declares the security scheme for /docs; authenticate reads the request.
    return authenticate(request, services)


def current_user(auth: Annotated[tuple[User, str], Depends(current_auth)]) -> User:
    return auth[0]


CurrentAuth = Annotated[tuple[User, str], Depends(current_auth)]
CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if user.role is not Role.ADMIN:
        raise Forbidden("only an admin may do this")
    return user


AdminUser = Annotated[User, Depends(admin_user)]

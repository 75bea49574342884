"""The secret key, the session cookie and CSRF tokens of the pages.

CSRF: each browser gets a random ``stagecoach_csrf`` cookie; a form's token is that value
signed with the secret key. A forged form from another site cannot know the cookie, so it
cannot carry the matching token (and SameSite=Lax keeps the session cookie off its POSTs).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from fastapi import Request
from starlette.responses import Response

from stagecoach.api.deps import SESSION_COOKIE  # one name for the API and the pages
from stagecoach.settings import Settings

CSRF_COOKIE = "stagecoach_csrf"
CSRF_FIELD = "csrf_token"


def secret_key(settings: Settings) -> bytes:
    """The configured key, else one generated once and kept in <data_dir>/secret_key."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value().strip():
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def app_secret(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "web_secret_key", None)
    if key is None:
        key = secret_key(request.app.state.settings)
        request.app.state.web_secret_key = key
    return key


def _sign(key: bytes, seed: str) -> str:
    return hmac.new(key, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token for this browser's forms (makes its seed cookie when it has none)."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_seed", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.csrf_seed = seed
    return _sign(app_secret(request), seed)


def csrf_ok(request: Request, token: str | None) -> bool:
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not token:
        return False
    return hmac.compare_digest(_sign(app_secret(request), seed), token)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_csrf_cookie(request: Request, response: Response) -> None:
    seed = getattr(request.state, "csrf_seed", None)
    if seed and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, seed, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )


def set_session_cookie(
    request: Request, response: Response, token: str, max_age_hours: float
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(max_age_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

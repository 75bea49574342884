"""SQL for users and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stagecoach.domain.records import Role, User
from stagecoach.store.tables import api_tokens, users

_USER_COLS = [
    users.c.user_id,
    users.c.username,
    users.c.role,
    users.c.manager_id,
    users.c.created_at,
    users.c.disabled,
]


def count_users(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def insert_user(conn: Connection, user: User, password_hash: str) -> None:
    conn.execute(
        users.insert().values(
            user_id=user.user_id,
            username=user.username,
            password_hash=password_hash,
            role=str(user.role),
            manager_id=user.manager_id,
            created_at=user.created_at,
            disabled=user.disabled,
        )
    )


def user_by_name(conn: Connection, username: str) -> tuple[User, str] | None:
    row = (
        conn.execute(
            sa.select(*_USER_COLS, users.c.password_hash).where(users.c.username == username)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return User.from_row(row), row["password_hash"]


def user_by_id(conn: Connection, user_id: str) -> User | None:
    row = conn.execute(sa.select(*_USER_COLS).where(users.c.user_id == user_id)).mappings().first()
    return User.from_row(row) if row else None


def list_users(conn: Connection) -> list[User]:
    rows = conn.execute(sa.select(*_USER_COLS).order_by(users.c.username)).mappings()
    return [User.from_row(r) for r in rows]


def set_password(conn: Connection, user_id: str, password_hash: str) -> None:
    conn.execute(
        users.update().where(users.c.user_id == user_id).values(password_hash=password_hash)
    )


def insert_token(conn: Connection, **values: Any) -> None:
    conn.execute(api_tokens.insert().values(**values))


def user_for_token(
    conn: Connection, token_hash: str, now: datetime
) -> tuple[User, str, datetime] | None:
    """The user a live token belongs to, the token's id and when it expires."""
    row = (
        conn.execute(
            sa.select(*_USER_COLS, api_tokens.c.token_id, api_tokens.c.expires_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.user_id)
            .where(
                api_tokens.c.token_hash == token_hash,
                api_tokens.c.revoked_at.is_(None),
                api_tokens.c.expires_at > now,
                users.c.disabled.is_(False),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return User.from_row(row), row["token_id"], row["expires_at"]


def live_token_ids(conn: Connection, token_ids: Iterable[str], now: datetime) -> set[str]:
    """Which of these tokens are still good: not revoked, not expired, their user enabled."""
    ids = list(token_ids)
    if not ids:
        return set()
    rows = conn.execute(
        sa.select(api_tokens.c.token_id)
        .join(users, api_tokens.c.user_id == users.c.user_id)
        .where(
            api_tokens.c.token_id.in_(ids),
            api_tokens.c.revoked_at.is_(None),
            api_tokens.c.expires_at > now,
            users.c.disabled.is_(False),
        )
    ).scalars()
    return set(rows)


def visible_users(conn: Connection, viewer: User) -> list[User]:
    """The users whose jobs the viewer may see (themselves included), by name."""
    rows = conn.execute(
        sa.select(*_USER_COLS)
        .where(visible_owner_clause(viewer, users.c.user_id))
        .order_by(users.c.username)
    ).mappings()
    return [User.from_row(r) for r in rows]


def revoke_token(conn: Connection, token_id: str, now: datetime) -> None:
    conn.execute(
        api_tokens.update()
        .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user_tokens(conn: Connection, user_id: str, now: datetime) -> int:
    res = conn.execute(
        api_tokens.update()
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return res.rowcount or 0


def visible_owner_clause(
    viewer: User, owner_col: sa.ColumnElement[Any], viewer_id: Any = None
) -> sa.ColumnElement[bool]:
    """Whose jobs a user may see: their own; a manager also their team's; an admin all.
    ``viewer_id`` may be a bind parameter, for statements built once and reused."""
    me = viewer.user_id if viewer_id is None else viewer_id
    if viewer.role is Role.ADMIN:
        return sa.true()
    if viewer.role is Role.MANAGER:
        team = sa.select(users.c.user_id).where(users.c.manager_id == me)
        return sa.or_(owner_col == me, owner_col.in_(team))
    return owner_col == me

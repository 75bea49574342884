"""Accounts: users, roles, passwords and bearer tokens."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from stagecoach.domain.records import Role, User
from stagecoach.services.context import ServiceContext
from stagecoach.services.errors import (
    Conflict,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from stagecoach.store import accounts as store
from stagecoach.store import events as events_store
from stagecoach.store import login_limits as limits_store
from stagecoach.store import team as team_store

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_hasher = PasswordHasher()
# Verifying an unknown user costs as much as a known one, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not a real password")


def _limit_keys(username: str, client: str | None, attempts: int) -> dict[str, int]:
    """The limit keys of a sign-in and the failures each allows in a window: the username's
    (hashed, so any text fits the column), and the client address's, three times as many."""
    keys = {"u:" + _digest(username): attempts}
    if client:
        keys["a:" + _digest(client)] = 3 * attempts
    return keys


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


log = logging.getLogger("stagecoach.accounts")

Background = Callable[[Callable[[], None]], object]
"""Runs a call off the event loop (the poll's thread pool's ``submit``)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # token hash -> (looked up at, expires at, user and token id); saves a query on
        # every poll.
        self._tokens: dict[str, tuple[float, datetime, tuple[User, str]]] = {}
        self._tokens_lock = threading.Lock()
        # user id -> (read at, whose jobs they may see: None for everyone); for the polls
        # answered from memory, trusted as long as a token is.
        self._owners: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._renewing: set[str] = set()  # the cached checks being renewed in the background

    def create_user(
        self, username: str, password: str, role: str, manager: str | None = None
    ) -> User:
        if not USERNAME.match(username):
            raise Invalid("username must be 1-64 letters, digits or . _ @ -")
        if len(password) < 8:
            raise Invalid("password must be at least 8 characters")
        try:
            role_ = Role(role)
        except ValueError:
            raise Invalid(f"role must be one of: {', '.join(r.value for r in Role)}") from None
        pw_hash = _hasher.hash(password)
        with self.ctx.db.write() as conn:
            manager_id = None
            if manager is not None:
                found = store.user_by_name(conn, manager)
                if found is None:
                    raise Invalid(f"manager '{manager}' does not exist")
                if found[0].role not in (Role.MANAGER, Role.ADMIN):
                    raise Invalid(f"'{manager}' is not a manager")
                manager_id = found[0].user_id
            if store.user_by_name(conn, username) is not None:
                raise Conflict(f"user '{username}' already exists")
            user = User(
                user_id=str(uuid.uuid4()),
                username=username,
                role=role_,
                manager_id=manager_id,
                created_at=self.ctx.clock(),
            )
            store.insert_user(conn, user, pw_hash)
        return user

    def ensure_admin(self) -> str | None:
        """On an empty database create `admin`. Returns a generated password to print once."""
        given = self.ctx.settings.admin_password
        password = given.get_secret_value() if given else secrets.token_urlsafe(12)
        with self.ctx.db.write() as conn:
            if store.count_users(conn) > 0:
                return None
            user = User(
                user_id=str(uuid.uuid4()),
                username="admin",
                role=Role.ADMIN,
                created_at=self.ctx.clock(),
            )
            try:
                store.insert_user(conn, user, _hasher.hash(password))
            except IntegrityError:  # another process made it first
                return None
        return None if given else password

    def authenticate(self, username: str, password: str) -> User:
        found = None
        if USERNAME.match(username):  # no other name exists (nor fits a query: NUL)
            with self.ctx.db.read() as conn:
                found = store.user_by_name(conn, username)
        pw_hash = found[1] if found else _DUMMY_HASH
        try:
            _hasher.verify(pw_hash, password)
        except (VerificationError, InvalidHashError):
            found = None
        if found is None or found[0].disabled:
            raise Unauthorized("wrong username or password")
        return found[0]

    def issue_token(self, user: User, kind: str = "api") -> str:
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            store.insert_token(
                conn,
                token_id=str(uuid.uuid4()),
                user_id=user.user_id,
                token_hash=hash_token(token),
                kind=kind,
                created_at=now,
                expires_at=now + timedelta(hours=self.ctx.settings.token_ttl_hours),
            )
        return token

    def login(
        self, username: str, password: str, kind: str = "api", client: str | None = None
    ) -> str:
        """A new token for the right password. Each attempt is counted per username and
        per client address before the password is checked (so a refused one costs no
        argon2 work); a right password takes its attempt back."""
        keys = _limit_keys(username, client, self.ctx.settings.login_attempts)
        self._reserve_attempt(keys)
        user = self.authenticate(username, password)
        with self.ctx.db.write() as conn:
            limits_store.forgive(conn, list(keys))
        return self.issue_token(user, kind)

    def _reserve_attempt(self, keys: dict[str, int]) -> None:
        settings = self.ctx.settings
        now = self.ctx.clock()
        window = timedelta(seconds=settings.login_window_seconds)
        with self.ctx.db.write() as conn:
            counts = limits_store.reserve(conn, list(keys), now, now - window)
        over = [c for c in counts if c.failures > keys[c.key]]
        if over:
            wait = max((c.window_start + window - now).total_seconds() for c in over)
            raise TooManyRequests(
                "too many failed sign-ins; try again later", retry_after=max(1, math.ceil(wait))
            )

    def known_token(
        self, token: str, background: Background | None = None
    ) -> tuple[User, str] | None:
        """``user_for_token`` if this process checked the token in the last
        `token_cache_seconds`, with no I/O; else None (ask ``user_for_token``). Given
        ``background`` (a way to run a call off the event loop), a check past half its age
        is renewed there, once, so that a token polled steadily is never found expired."""
        key = hash_token(token)
        hit = self._tokens.get(key)
        if hit is None or self.ctx.clock() >= hit[1]:
            return None
        if not self._fresh(hit[0], "token:" + key, lambda: self._look_up_token(key), background):
            return None
        return hit[2]

    def user_for_token(self, token: str) -> tuple[User, str] | None:
        """The token's user. A token seen in the last `token_cache_seconds` is not looked up
        again, so a revocation made by another process takes effect within that time."""
        found = self.known_token(token)
        if found is not None:
            return found
        return self._look_up_token(hash_token(token))

    def _look_up_token(self, key: str) -> tuple[User, str] | None:
        ttl = self.ctx.settings.token_cache_seconds
        checked = time.monotonic()  # before the read: the cache is trusted from then
        with self.ctx.db.read_each() as conn:  # one statement: no transaction (every poll)
            row = store.user_for_token(conn, key, self.ctx.clock())
        found = None if row is None else (row[0], row[1])
        with self._tokens_lock:
            if row is None:
                self._tokens.pop(key, None)
            elif ttl > 0:
                if len(self._tokens) > 10_000:
                    self._tokens.clear()  # crude bound; refills from the database
                self._tokens[key] = (checked, row[2], (row[0], row[1]))
        return found

    def _fresh(
        self,
        checked: float,
        what: str,
        read: Callable[[], object],
        background: Background | None,
    ) -> bool:
        """Whether a check made at ``checked`` (monotonic) may still be trusted: within
        `token_cache_seconds`. Past half that, ``read`` renews it through ``background``."""
        age, ttl = time.monotonic() - checked, self.ctx.settings.token_cache_seconds
        if age >= ttl:
            return False
        if background is not None and age >= ttl / 2:
            self._renew(what, read, background)
        return True

    def _renew(self, what: str, read: Callable[[], object], background: Background) -> None:
        """Run ``read`` through ``background`` unless a renewal of ``what`` is running."""
        with self._tokens_lock:
            if what in self._renewing:
                return
            self._renewing.add(what)

        def renew() -> None:
            try:
                read()
            except Exception:  # the next poll past the cache's age asks the database itself
                log.exception("renewing a cached check failed")
            finally:
                with self._tokens_lock:
                    self._renewing.discard(what)

        try:
            background(renew)
        except RuntimeError:  # the pool has shut down (the app is stopping): no renewal
            with self._tokens_lock:
                self._renewing.discard(what)

    def revoke(self, token_id: str) -> None:
        with self.ctx.db.write() as conn:
            store.revoke_token(conn, token_id, self.ctx.clock())
        with self._tokens_lock:
            for key in [k for k, (_, _, f) in self._tokens.items() if f[1] == token_id]:
                del self._tokens[key]

    def live_tokens(self, token_ids: Iterable[str]) -> set[str]:
        """Which of these token ids are still good, asked of the database (no cache): open
        event streams check their tokens with it."""
        with self.ctx.db.read() as conn:
            return store.live_token_ids(conn, token_ids, self.ctx.clock())

    def known_owners(
        self, viewer: User, background: Background | None = None
    ) -> Callable[[str], bool] | None:
        """Whether the viewer may see a job of a given owner, from what ``learn_owners``
        read in the last `token_cache_seconds` (so a change of a manager's team takes effect
        within that time, as a revocation does); None when that needs a read. Renewed
        through ``background`` past half its age, as ``known_token``."""
        hit = self._owners.get(viewer.user_id)
        what = "owners:" + viewer.user_id
        if hit is None or not self._fresh(
            hit[0], what, lambda: self._read_owners(viewer), background
        ):
            return None
        owners = hit[1]
        return _everyone if owners is None else owners.__contains__

    def learn_owners(self, viewer: User) -> None:
        """Read whose jobs the viewer may see, for ``known_owners``, unless it still knows."""
        if self.known_owners(viewer) is not None or self.ctx.settings.token_cache_seconds <= 0:
            return
        self._read_owners(viewer)

    def _read_owners(self, viewer: User) -> None:
        checked = time.monotonic()
        with self.ctx.db.read_each() as conn:  # one statement, as the poll's reads
            owners = events_store.visible_owner_ids(conn, viewer)
        with self._tokens_lock:
            if len(self._owners) > 10_000:
                self._owners.clear()  # crude bound, as for tokens
            self._owners[viewer.user_id] = (checked, owners)

    def visible_users(self, viewer: User) -> list[User]:
        """Whose jobs the viewer may see: themselves, a manager's team, everyone for an admin."""
        with self.ctx.db.read() as conn:
            return store.visible_users(conn, viewer)

    def team_summary(self, viewer: User, failed_since: datetime) -> list[dict[str, Any]]:
        """Per user the viewer may see: their name, jobs running, jobs failed since then."""
        with self.ctx.db.read() as conn:
            people = store.visible_users(conn, viewer)
            counts = team_store.owner_counts(conn, viewer, failed_since)
        return [
            {
                "user_id": u.user_id,
                "username": u.username,
                **counts.get(u.user_id, {"running": 0, "failed_today": 0}),
            }
            for u in people
        ]

    def list_users(self) -> list[User]:
        with self.ctx.db.read() as conn:
            return store.list_users(conn)

    def get_user(self, user_id: str) -> User:
        with self.ctx.db.read() as conn:
            user = store.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        return user


def _everyone(_owner_id: str) -> bool:
    return True

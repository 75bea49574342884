"""What every service needs, built once per app or worker (never at import time)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from stagecoach.settings import Settings
from stagecoach.store import wakeups
from stagecoach.store.db import Database, after_commit

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkSignal:
    """Wakes this process's idle workers as soon as a job becomes claimable.

    Workers in other processes still find the job by polling; the embedded worker of
    `stagecoach serve` starts a fresh upload at once instead of up to a poll later, which
    also makes the start of a short job predictable.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Until a notify after ``seen`` (a ``generation`` read before looking for work)."""
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen, timeout)


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    clock: Clock = field(default=utcnow)
    work_ready: WorkSignal = field(default_factory=WorkSignal)
    on_jobs_changed: list[Callable[[list[str]], None]] = field(default_factory=list)
    """Called with the ids of jobs a transaction of this process changed, once it commits
    (the status poll forgets what it kept of them)."""

    def announce_work(self, conn: Connection) -> None:
        """A job became claimable in this transaction: once it commits, wake idle workers,
        in this process and (PostgreSQL NOTIFY) in others."""
        wakeups.announce_work(conn)
        after_commit(conn, self.work_ready.notify)

    def jobs_changed(self, conn: Connection, job_ids: list[str]) -> None:
        """``conn``'s transaction changes these jobs: tell ``on_jobs_changed`` once it
        commits. Other processes learn it from the change feed."""
        if self.on_jobs_changed:
            after_commit(conn, lambda: self._tell_changed(job_ids))

    def _tell_changed(self, job_ids: list[str]) -> None:
        for listener in self.on_jobs_changed:
            listener(job_ids)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utcnow) -> ServiceContext:
        return cls(settings=settings, db=Database(settings.db_url), clock=clock)

"""What every service needs, built once per app or worker (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stagecoach.settings import Settings
from stagecoach.store.db import Database

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    clock: Clock = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utcnow) -> ServiceContext:
        return cls(settings=settings, db=Database(settings.db_url), clock=clock)

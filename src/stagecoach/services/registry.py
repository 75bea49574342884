"""All services of one app or worker, built from one context."""

from __future__ import annotations

from functools import cached_property

from stagecoach.events.broker import EventBroker
from stagecoach.services.accounts import Accounts
from stagecoach.services.context import ServiceContext
from stagecoach.services.tracking import Tracking
from stagecoach.storage.local import LocalStorage


class Services:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.ctx)

    @cached_property
    def tracking(self) -> Tracking:
        return Tracking(self.ctx)

    @cached_property
    def storage(self) -> LocalStorage:
        return LocalStorage(self.ctx.settings.files_dir)

    @cached_property
    def events(self) -> EventBroker:
        return EventBroker(self.ctx)

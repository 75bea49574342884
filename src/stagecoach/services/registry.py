"""All services of one app or worker, built from one context."""

from __future__ import annotations

from functools import cached_property

from stagecoach.services.accounts import Accounts
from stagecoach.services.context import ServiceContext
from stagecoach.services.metrics import Metrics
from stagecoach.services.queue import Queue
from stagecoach.services.results import Results
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
    def queue(self) -> Queue:
        return Queue(self.ctx, self.storage)

    @cached_property
    def results(self) -> Results:
        return Results(self.ctx, self.storage)

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics(self.ctx)

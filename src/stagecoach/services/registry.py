"""All services of one app or worker, built from one context."""

from __future__ import annotations

from functools import cached_property

from stagecoach.events.broker import EventBroker
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.registry import load_pipelines
from stagecoach.services.accounts import Accounts
from stagecoach.services.cases import Cases
from stagecoach.services.context import ServiceContext
from stagecoach.services.estimates import Estimates
from stagecoach.services.files import Files
from stagecoach.services.housekeeping import Housekeeping
from stagecoach.services.metrics import Metrics
from stagecoach.services.polls import Polls
from stagecoach.services.queue import Queue
from stagecoach.services.reprocess import Reprocess
from stagecoach.services.results import Results
from stagecoach.services.tracking import Tracking
from stagecoach.services.uploads import Uploads
from stagecoach.storage import open_storage
from stagecoach.storage.base import Storage


class Services:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.ctx)

    @cached_property
    def pipelines(self) -> dict[str, Pipeline]:
        return load_pipelines()

    @cached_property
    def estimates(self) -> Estimates:
        return Estimates(self.ctx, self.pipelines)

    @cached_property
    def tracking(self) -> Tracking:
        return Tracking(self.ctx, self.estimates)

    @cached_property
    def polls(self) -> Polls:
        return Polls(self.accounts, self.tracking)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.ctx.settings)

    @cached_property
    def events(self) -> EventBroker:
        polled = self.tracking.polled
        return EventBroker(
            self.ctx,
            self.tracking.documents_by_id,
            on_changes=polled.forget,
            on_read=self.tracking.feed_read,
        )

    @cached_property
    def uploads(self) -> Uploads:
        return Uploads(self.ctx, self.tracking, self.storage)

    @cached_property
    def files(self) -> Files:
        return Files(self.ctx, self.storage)

    @cached_property
    def cases(self) -> Cases:
        return Cases(self.ctx)

    @cached_property
    def reprocess(self) -> Reprocess:
        return Reprocess(self.ctx, self.tracking)

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.ctx, self.storage, self.estimates)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        return Housekeeping(self.ctx, self.storage, self.estimates)

    @cached_property
    def results(self) -> Results:
        return Results(self.ctx, self.storage)

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics(self.ctx)

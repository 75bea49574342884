"""The records of recently polled jobs, kept in the process, and the answers built from them.

A kept job is trusted in one of two ways.

- Checked: the poll reads the job's stamp (version, ``updated_at``, status), one narrow
  statement that also checks what the viewer may see. Every change of a job or one of its
  files bumps its version and ``updated_at`` in the same transaction, so a stamp equal to
  the one the records were read at means they are still the job's.
- Vouched: while this process's change-feed reader is reading (``feed_read``) and has seen
  no change of the job since its records were read, the poll answers from memory without
  a database read, on the event loop. A change committed by this process forgets the job at
  once (``forget``, from the unit of work's commit); one committed by another process is
  forgotten when the reader next reads the feed: within ``event_poll_interval`` (0.25 s) on
  SQLite, on its NOTIFY on PostgreSQL. A waiting job's place in the queue moves with any
  other job's change, so any change forgets every vouched place.

The records are kept pickled: bytes are nothing the garbage collector walks, and ten
thousand jobs kept as objects made each full collection (a pause of every request on the
process) five times longer, 55 to 277 ms on this machine. Unpickling a job with five files
takes about 35 us; reading them takes about 530.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stagecoach.domain.contract import Clock
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus

Stamp = tuple[int, datetime, JobStatus]

FEED_SILENCE_SECONDS = 3.0
"""A reader that has not read the feed for this long vouches for nothing: the polls check
stamps again until it reads (a database outage, a blocked loop)."""
REVOUCH_SECONDS = 30.0
"""A vouched job is checked against its stamp again after this long, whatever the feed
said: a bound on a change the feed could not show (a PostgreSQL feed row committed more
than the reader's look-back after it was numbered)."""
RENEW_AFTER_SECONDS = REVOUCH_SECONDS / 2
"""A vouched job still being polled is re-checked in the background (``due``, ``renew``)
once its vouching is this old, so that it never lapses into a database poll while it is
watched: ten thousand jobs kept at one moment would otherwise all fall to the database
together, REVOUCH_SECONDS later."""
RENEW_BATCH = 1000
RENEW_EVERY_SECONDS = 0.5


def stamp_of(job: Job) -> Stamp:
    return (job.version, job.updated_at, job.status)


@dataclass(slots=True)
class Kept:
    job_id: str
    stamp: Stamp
    owner_id: str
    records: bytes  # pickled (job, files)
    position: int | None  # the job's place in the queue, read with the records
    positioned: bool  # waiting to be claimed: the place moves with other jobs
    vouched_at: float | None  # monotonic; None: check the stamp
    built: tuple[int | None, bytes] | None = None
    """The encoded document last built from these records, and the second it was built in
    (None: a job whose document does not move with the clock)."""
    served_at: float = float("-inf")
    """When a poll was last answered from these records (monotonic): renewed only if so."""
    settled: tuple[Clock, bytes] | None = None
    """A waiting or running job's clock and its document's settled part, encoded: a new
    second appends the clock's fields, without unpickling or building anything."""

    def load(self) -> tuple[Job, list[Artifact]]:
        job, arts = pickle.loads(self.records)
        return job, arts


class RecordCache:
    """Least recently used first out, at most ``size`` jobs (0: keep none)."""

    def __init__(self, size: int, *, silence: float = FEED_SILENCE_SECONDS) -> None:
        self._size = size
        self._silence = silence
        self._items: OrderedDict[str, Kept] = OrderedDict()
        self._positioned: set[str] = set()
        self._lock = threading.Lock()
        self._epoch = 0  # one more at each forget: a read begun before it vouches for nothing
        self._feed_read_at = float("-inf")
        self._swept_at = float("-inf")

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def epoch(self) -> int:
        """Read before reading a job's records; ``put`` vouches for them only if no change
        was forgotten in between."""
        return self._epoch

    def get(self, job_id: str, stamp: Stamp) -> tuple[Job, list[Artifact]] | None:
        """The job and its files if they were read at ``stamp``, else None."""
        with self._lock:
            item = self._items.get(job_id)
            if item is None or item.stamp != stamp:
                return None
            self._items.move_to_end(job_id)
        return item.load()

    def vouched(self, job_id: str) -> Kept | None:
        """The kept job if the change feed vouches for it, else None (check its stamp)."""
        item = self._items.get(job_id)
        if item is None or item.vouched_at is None:
            return None
        now = time.monotonic()
        if not self._feed_live(now):
            return None
        if now - item.vouched_at > REVOUCH_SECONDS:
            return None
        item.served_at = now
        return item

    def due(self, now: float) -> list[tuple[str, Stamp]]:
        """The vouched jobs polled since they were vouched for whose vouching is
        RENEW_AFTER_SECONDS old (at most RENEW_BATCH, and none if asked again within
        RENEW_EVERY_SECONDS): ``renew`` them with their stamps read after ``now``."""
        if now - self._swept_at < RENEW_EVERY_SECONDS:
            return []
        self._swept_at = now
        out = []
        with self._lock:
            items = list(self._items.values())
        for item in items:
            at = item.vouched_at
            # A waiting job's place in the queue would need a read: its next poll checks.
            if at is None or item.positioned or item.served_at <= at:
                continue
            if now - at > RENEW_AFTER_SECONDS:
                out.append((item.job_id, item.stamp))
                if len(out) >= RENEW_BATCH:
                    break
        return out

    def renew(self, asked: list[tuple[str, Stamp]], found: dict[str, Stamp], at: float) -> None:
        """``found``: the stamps of the ``due`` jobs, read after ``at``. A job still kept
        at the stamp read is vouched for as of ``at``; one whose stamp moved (a change the
        feed has not shown yet) or that is gone is checked by its next poll. A job forgotten
        meanwhile stays forgotten: its stamp then differs, or it is no longer vouched."""
        with self._lock:
            for job_id, stamp in asked:
                item = self._items.get(job_id)
                if item is None or item.stamp != stamp or item.vouched_at is None:
                    continue
                item.vouched_at = max(item.vouched_at, at) if found.get(job_id) == stamp else None

    def keep(
        self,
        job: Job,
        arts: list[Artifact],
        *,
        from_kept: bool,
        position: int | None,
        epoch: int,
        built: tuple[int | None, bytes] | None = None,
        settled: tuple[Clock, bytes] | None = None,
    ) -> None:
        """Keep what a poll read (it read ``epoch`` first), and the encoded document if it
        built one (with its settled part, for a job whose document moves with the clock).
        Records that came from here are not pickled again: their stamp was just checked,
        which vouches for them anew."""
        if self._size <= 0:
            return
        records = None if from_kept else pickle.dumps((job, arts), pickle.HIGHEST_PROTOCOL)
        positioned = job.status is JobStatus.PENDING and job.claimable
        stamp = stamp_of(job)
        with self._lock:
            now = time.monotonic()
            live = epoch == self._epoch and self._feed_live(now)
            item = self._items.get(job.job_id)
            same = item is not None and item.stamp == stamp
            if records is None:
                if item is None or not same:
                    return  # replaced meanwhile by a newer read
                records = item.records
            if built is None and item is not None and same:
                built, settled = item.built, item.settled
            self._items[job.job_id] = Kept(
                job_id=job.job_id,
                stamp=stamp,
                owner_id=job.owner_id,
                records=records,
                position=position,
                positioned=positioned,
                vouched_at=now if live else None,
                built=built,
                settled=settled,
            )
            self._items.move_to_end(job.job_id)
            if positioned:
                self._positioned.add(job.job_id)
            else:
                self._positioned.discard(job.job_id)
            while len(self._items) > self._size:
                old, _ = self._items.popitem(last=False)
                self._positioned.discard(old)

    def revouch(self, job_id: str, stamp: Stamp, epoch: int) -> None:
        """A poll found the job's stamp unchanged (it read ``epoch`` first): the kept
        records are vouched for again, unless their place in the queue would need a read."""
        with self._lock:
            item = self._items.get(job_id)
            if item is None or item.stamp != stamp or item.positioned or epoch != self._epoch:
                return
            if self._feed_live(time.monotonic()):
                item.vouched_at = time.monotonic()

    def forget(self, job_ids: Iterable[str]) -> None:
        """These jobs changed: check their stamps again, and every waiting job's place."""
        with self._lock:
            self._epoch += 1
            for job_id in (*job_ids, *self._positioned):
                item = self._items.get(job_id)
                if item is not None:
                    item.vouched_at = None
            self._positioned.clear()

    def _feed_live(self, now: float) -> bool:
        """Whether the change-feed reader has read the feed recently enough to vouch."""
        return now - self._feed_read_at <= self._silence

    def feed_read(self) -> None:
        """The change-feed reader has read the feed and forgotten every change in it."""
        self._feed_read_at = time.monotonic()

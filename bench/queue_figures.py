"""The queue bench's figures, computed from the timestamps its databases recorded (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Timing:
    """One job as its database recorded it."""

    started: datetime | None
    ended: datetime | None
    ok: bool = True


def jobs_per_second(timings: Sequence[Timing]) -> tuple[float, float]:
    """Jobs that ended well per second, from the first start to the last end; and that span
    in seconds. NaN when nothing ended."""
    done = [t for t in timings if t.ok and t.started and t.ended]
    if not done:
        return math.nan, math.nan
    first = min(t.started for t in done if t.started)
    last = max(t.ended for t in done if t.ended)
    span = (last - first).total_seconds()
    return (len(done) / span if span > 0 else math.nan), span


def latencies_ms(enqueued: Mapping[Any, datetime], timings: Mapping[Any, Timing]) -> list[float]:
    """Milliseconds from each job's enqueue to its start; jobs never started are left out."""
    out = []
    for key, at in enqueued.items():
        t = timings.get(key)
        if t is not None and t.started is not None:
            out.append((t.started - at).total_seconds() * 1000)
    return out


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is missing (NaN) or b is zero."""
    if math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b

"""How fast a file was processed, in the words its owner thinks in.

Audio and video against the clock ("1.9× real time": 1.9 seconds of recording per second of
processing), documents in pages per second, datasets in rows per second, anything else in
bytes. Figures keep two significant digits: the speed is an order of magnitude to tell,
not a benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

UNIT_OF_TYPE = {
    "audio": "audio_seconds",
    "video": "audio_seconds",
    "document": "pages",
    "dataset": "rows",
}
WORDS = {"pages": ("page", "pages"), "rows": ("row", "rows")}


def _round2(x: float) -> float:
    """Two significant digits: 1.94 -> 1.9, 41 234 -> 41 000."""
    if x <= 0:
        return 0.0
    return round(x, 1 - math.floor(math.log10(x)))


def _number(x: float) -> str:
    x = _round2(x)
    return f"{x:,.0f}" if x >= 10 else f"{x:g}"


def speed_text(file_type: str, units: float | None, seconds: float | None) -> str | None:
    """The speed of ``units`` of the file's own unit (audio seconds, pages, rows, bytes) done
    in ``seconds``; None when either is unknown or zero."""
    if not units or not seconds or units <= 0 or seconds <= 0:
        return None
    unit = UNIT_OF_TYPE.get(file_type, "bytes")
    rate = units / seconds
    if unit == "audio_seconds":
        return f"{_number(rate)}× real time"
    if unit == "bytes":
        return f"{_number(rate / 1e6)} MB/s" if rate >= 1e5 else f"{_number(rate / 1e3)} kB/s"
    one, many = WORDS[unit]
    if rate < 1:
        return f"{_number(seconds / units)} s per {one}"
    return f"{_number(rate)} {many}/s"


def artifact_speed(artifact: Mapping[str, Any]) -> str | None:
    """The speed of a completed file of a status document (its ``artifacts`` entry): the
    amount of its first stage in its type's unit over the seconds of all its stages."""
    if artifact.get("status") != "completed":
        return None
    seconds = sum((artifact.get("processing_stages") or {}).values())
    unit = UNIT_OF_TYPE.get(artifact.get("file_type") or "", "bytes")
    for stage in (artifact.get("stage_units") or {}).values():
        if stage.get("unit") == unit:
            return speed_text(
                artifact["file_type"], stage.get("total") or stage.get("done"), seconds
            )
    return None

"""Stage functions for the memory tests (importable by name in a stage host)."""

from __future__ import annotations

from typing import Any

KEPT: list[bytearray] = []


def allocate(a: Any, r: Any) -> None:
    """Touches ``options['mb']`` MiB; keeps it when ``options['keep']`` (a leak, say)."""
    block = bytearray(a.options["mb"] * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1  # resident, not just reserved
    if a.options.get("keep"):
        KEPT.append(block)
    r.progress(1)


def one(a: Any) -> float:
    return 1.0

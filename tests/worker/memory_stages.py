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


def modules_seen(a: Any, r: Any) -> None:
    """Writes which of ``options['names']`` this stage process had imported before it ran."""
    import json
    import sys

    seen = {name: name in sys.modules for name in a.options["names"]}
    (a.results_dir / "modules.json").write_text(json.dumps(seen))
    r.progress(1)

"""Charting: which columns deserve a chart, and drawing them as PNG files.

matplotlib is used through ``Figure`` directly (Agg canvas), never pyplot: no global state,
no display needed, safe in a worker process.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

MAX_CHARTS = 4
MAX_BARS = 12
MIN_SCATTER_R = 0.5
SCATTER_POINTS = 5000


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[:40] or "column"


def _numeric(col: dict[str, Any]) -> bool:
    return col["type"] in ("integer", "number") and not col["unique"] and "stats" in col


def _evenness(col: dict[str, Any]) -> float:
    """0 when one value dominates, 1 when the top values are equally common."""
    pcts = [v["pct"] / 100 for v in col.get("top_values", []) if v["pct"] > 0]
    if len(pcts) < 2:
        return 0.0
    entropy = -sum(p * math.log(p) for p in pcts)
    return entropy / math.log(len(pcts))


def choose_charts(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Up to MAX_CHARTS charts: the spread of numbers, the mix of categories, a relationship."""
    columns = profile["column_profiles"]
    numeric = sorted(
        (c for c in columns if _numeric(c) and c["stats"]["std"] > 0),
        key=lambda c: (c["missing_pct"], -c["stats"]["std"] / (abs(c["stats"]["mean"]) + 1e-9)),
    )
    categories = sorted(
        (c for c in columns if c["type"] in ("category", "boolean") and 2 <= c["distinct"] <= 50),
        key=lambda c: (c["missing_pct"] > 50, -_evenness(c)),
    )
    numeric_names = {c["name"] for c in numeric}
    pairs = [
        p
        for p in profile.get("correlations", [])
        if abs(p["r"]) >= MIN_SCATTER_R and {p["a"], p["b"]} <= numeric_names
    ]
    picks: list[dict[str, Any]] = []
    hist = [{"kind": "histogram", "columns": [c["name"]]} for c in numeric]
    bars = [{"kind": "bar", "columns": [c["name"]]} for c in categories]
    scatter = [{"kind": "scatter", "columns": [p["a"], p["b"]], "r": p["r"]} for p in pairs[:1]]
    # One of each kind first, then more of the same.
    for group in (hist[:1], bars[:1], scatter, hist[1:], bars[1:]):
        picks.extend(group)
    picks = picks[:MAX_CHARTS]
    for i, chart in enumerate(picks, 1):
        chart["file"] = f"chart_{i}_{chart['kind']}_{'_'.join(map(_slug, chart['columns']))}.png"
    return picks


def _figure() -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    # Fixed margins: automatic layout engines cost more than drawing the chart.
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.13, top=0.91)
    return fig, fig.add_subplot()


def draw_histogram(col: dict[str, Any], path: Path) -> None:
    fig, ax = _figure()
    hist = col["stats"]["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#4878a8", edgecolor="white")
    ax.axvline(col["stats"]["median"], color="#c44e52", linestyle="--", label="median")
    ax.set(title=f"Distribution of {col['name']}", xlabel=col["name"], ylabel="rows")
    ax.legend()
    fig.savefig(path)


def draw_bar(col: dict[str, Any], path: Path) -> None:
    fig, ax = _figure()
    top = col["top_values"][:MAX_BARS][::-1]
    ax.barh([str(v["value"])[:30] for v in top], [v["count"] for v in top], color="#55a868")
    ax.set(title=f"Most common values of {col['name']}", xlabel="rows")
    fig.savefig(path)


def draw_scatter(chart: dict[str, Any], xs: Any, ys: Any, path: Path) -> None:
    fig, ax = _figure()
    ax.scatter(xs, ys, s=6, alpha=0.4, color="#8172b2")
    a, b = chart["columns"]
    ax.set(title=f"{b} against {a} (r = {chart['r']:.2f})", xlabel=a, ylabel=b)
    fig.savefig(path)

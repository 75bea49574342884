"""Narrating: the profile told in plain language, most telling findings first."""

from __future__ import annotations

from typing import Any

MAX_COLUMNS_TOLD = 8
MAX_COLUMNS_TYPED = 40


def _num(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _names(cols: list[dict[str, Any]]) -> str:
    names = [c["name"] for c in cols]
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def overview(profile: dict[str, Any]) -> list[str]:
    cols = profile["column_profiles"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for c in cols:
        by_type.setdefault(c["type"], []).append(c)
    labels = {
        "integer": "whole-number", "number": "numeric", "category": "categorical",
        "date": "date", "boolean": "yes/no", "text": "free-text", "empty": "empty",
        "identifier": "identifier",
    }  # fmt: skip
    kinds = [
        f"{len(v)} {labels[k]} ({_names(v)})"
        for k, v in sorted(by_type.items(), key=lambda kv: -len(kv[1]))
    ]
    return [
        f"The file holds **{profile['rows']:,} rows** and **{len(cols)} columns**: "
        + "; ".join(kinds)
        + "."
    ]


def quality(profile: dict[str, Any]) -> list[str]:
    cols = profile["column_profiles"]
    lines = []
    gaps = sorted((c for c in cols if c["missing"]), key=lambda c: -c["missing_pct"])
    if not gaps:
        lines.append("No values are missing.")
    for c in gaps[:5]:
        lines.append(f"**{c['name']}** is missing in {c['missing_pct']:g} % of rows.")
    for c in cols:
        if c["type"] == "empty":
            lines.append(f"**{c['name']}** has no values at all.")
        elif c["distinct"] == 1 and not c["distinct_is_lower_bound"]:
            lines.append(f"**{c['name']}** has the same value in every row.")
        elif c["type"] == "identifier":
            lines.append(f"**{c['name']}** is different in every row: it identifies the rows.")
    if profile.get("duplicate_rows"):
        lines.append(f"{profile['duplicate_rows']:,} rows are exact copies of an earlier row.")
    if profile.get("ragged_rows"):
        lines.append(f"{profile['ragged_rows']:,} rows had more or fewer fields than the header.")
    return lines


def describe_column(c: dict[str, Any]) -> str | None:
    if c["type"] in ("integer", "number") and "stats" in c and not c["unique"]:
        s = c["stats"]
        line = (
            f"**{c['name']}** ranges from {_num(s['min'])} to {_num(s['max'])}; the typical value "
            f"(median) is {_num(s['median'])} and the average {_num(s['mean'])}."
        )
        spread = s["std"] or 1.0
        if (s["mean"] - s["median"]) / spread > 0.2:
            line += " The average sits above the median: a few large values pull it up."
        elif (s["median"] - s["mean"]) / spread > 0.2:
            line += " The average sits below the median: a few small values pull it down."
        return line
    if c["type"] in ("category", "boolean") and c.get("top_values"):
        top = c["top_values"]
        line = (
            f"**{c['name']}**: the most common value is “{top[0]['value']}” ({top[0]['pct']:g} %)"
        )
        if len(top) > 1:
            line += f", then “{top[1]['value']}” ({top[1]['pct']:g} %)"
        return line + f", out of {c['distinct']:,} different values."
    if c["type"] == "date" and c.get("range"):
        return f"**{c['name']}** runs from {c['range']['min']} to {c['range']['max']}."
    if c["type"] == "text":
        return (
            f"**{c['name']}** is free text ({c['distinct']:,}"
            f"{'+' if c['distinct_is_lower_bound'] else ''} different values, "
            f"{c.get('mean_length', 0):g} characters on average)."
        )
    return None


def column_types(profile: dict[str, Any]) -> list[str]:
    """A table of every column's type and the one-line reason for it."""
    cols = profile["column_profiles"]
    rows = ["| column | type | why |", "| --- | --- | --- |"]
    for c in cols[:MAX_COLUMNS_TYPED]:
        name = str(c["name"]).replace("|", "\\|")
        rows.append(f"| {name} | {c['type']} | {c.get('reason', '')} |")
    if len(cols) > MAX_COLUMNS_TYPED:
        rows.append(f"| … | | {len(cols) - MAX_COLUMNS_TYPED} more in profile.json |")
    return rows


def relationships(profile: dict[str, Any]) -> list[str]:
    lines = []
    for p in profile.get("correlations", [])[:3]:
        r = p["r"]
        if abs(r) < 0.3:
            break
        strength = "strongly" if abs(r) >= 0.7 else "somewhat"
        way = "rise together" if r > 0 else "move in opposite directions"
        lines.append(f"**{p['a']}** and **{p['b']}** {strength} {way} (correlation {r:+.2f}).")
    return lines or ["No two numeric columns move together noticeably (all |r| < 0.3)."]


def story_markdown(
    name: str, profile: dict[str, Any], charts: list[dict[str, Any]], on_column: Any = None
) -> str:
    """The story; ``on_column(i)`` is called as each column is told (progress)."""
    parts = [f"# What is in {name}", "", *overview(profile), ""]
    if profile.get("notes"):
        parts += ["## How the file was read", "", *[f"- {n}" for n in profile["notes"]], ""]
    parts += ["## Column types", "", *column_types(profile), "", "## Data quality", ""]
    parts += [f"- {line}" for line in quality(profile)] + ["", "## Columns", ""]
    told = untold = 0
    for i, c in enumerate(profile["column_profiles"], 1):
        line = describe_column(c)
        if line and told < MAX_COLUMNS_TOLD:
            parts.append(f"- {line}")
            told += 1
        elif line:
            untold += 1
        if on_column:
            on_column(i)
    if untold:
        parts.append(f"- {untold} more columns are described in profile.json.")
    parts += ["", "## Relationships", "", *[f"- {line}" for line in relationships(profile)], ""]
    if charts:
        parts += ["## Charts", ""]
        parts += [f"![{c['kind']} of {', '.join(c['columns'])}]({c['file']})" for c in charts]
        parts.append("")
    return "\n".join(parts)

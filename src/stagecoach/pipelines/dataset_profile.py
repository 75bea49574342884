"""Profiling: per-column type, missing values and statistics, in one streaming pass.

Rows arrive in chunks; numbers are handled as numpy arrays per chunk. Memory is bounded:
numeric values are kept as a systematic sample (exact below ``SAMPLE_CAP`` values) for the
median, quartiles and histogram, and categorical counts stop adding new values past
``DISTINCT_CAP``. Mean, standard deviation, min, max and correlations are exact.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from itertools import combinations
from typing import Any

import numpy as np

from stagecoach.domain.cells import BOOLEANS, MISSING, parse_date, parse_number

SAMPLE_CAP = 500_000
DISTINCT_CAP = 50_000
MAX_CORRELATED_COLUMNS = 12
TYPE_SHARE = 0.95  # share of non-missing values a type needs to name the column
CATEGORY_MAX_DISTINCT = 20  # up to this many different values may always be categories
CATEGORY_MAX_SHARE = 0.05  # ... or up to this share of the rows, if values repeat
ID_NAME_RE = re.compile(r"(?:^|[^a-z])(?:id|no|nr|num|number|key|code)\.?$|#$|Id$", re.I)
TOKEN_MAX_CHARS = 40  # an identifier is one short token: a code, a version, a slug


def _share(n: int, of: int) -> str:
    return "all" if n >= of else f"{100 * n / of:.3g} %"


def _plain(x: float) -> str:
    return f"{int(x):,}" if x == int(x) else f"{x:,}"


class ColumnProfile:
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = self.missing = 0
        self.kinds: Counter[str] = Counter()
        self.values: Counter[str] = Counter()
        self.distinct_capped = False
        self.text_chars = 0
        self.text_words = 0
        self.tokens = 0  # text values that are one short token, no spaces
        self.date_min: dt.date | None = None
        self.date_max: dt.date | None = None
        # numeric: exact running figures (Chan et al. merge of chunk mean/M2) + a sample
        self.n = 0
        self.mean = self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.sample: list[np.ndarray] = []
        self.sample_size = 0
        self.stride = 1
        self.all_integers = True

    def add(self, cells: list[str]) -> np.ndarray:
        """Count one chunk of this column; returns its numbers (NaN where not a number)."""
        self.count += len(cells)
        try:  # fast path: every cell is a number
            numbers = np.array(cells, dtype=np.float64)
        except ValueError:
            numbers = None
        if numbers is not None and not np.isnan(numbers).any():
            self.kinds["number"] += len(cells)
            self._add_numbers(numbers[np.isfinite(numbers)])
            self._count_values(Counter(cells))
            return numbers
        # Otherwise look at each distinct value once: categories repeat a lot.
        number_of: dict[str, float] = {}
        present: Counter[str] = Counter()
        for raw, n in Counter(cells).items():
            value = raw.strip()
            number_of[raw] = math.nan
            if value.lower() in MISSING:
                self.missing += n
                continue
            present[value] += n
            number_of[raw] = number = parse_number(value)
            self._classify(value, number, n)
        numbers = np.fromiter(map(number_of.__getitem__, cells), np.float64, len(cells))
        self._add_numbers(numbers[np.isfinite(numbers)])
        self._count_values(present)
        return numbers

    def _classify(self, value: str, number: float, n: int) -> None:
        if not math.isnan(number):
            self.kinds["number"] += n
        elif value.lower() in BOOLEANS:
            self.kinds["boolean"] += n
        elif (day := parse_date(value)) is not None:
            self.kinds["date"] += n
            self.date_min = day if self.date_min is None else min(self.date_min, day)
            self.date_max = day if self.date_max is None else max(self.date_max, day)
        else:
            self.kinds["text"] += n
            self.text_chars += len(value) * n
            self.text_words += len(value.split()) * n
            if len(value) <= TOKEN_MAX_CHARS and not any(c.isspace() for c in value):
                self.tokens += n

    def _add_numbers(self, x: np.ndarray) -> None:
        if not x.size:
            return
        n_b, mean_b = x.size, float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n
        self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
        if self.all_integers and not np.all(np.mod(x, 1) == 0):
            self.all_integers = False
        kept = x[:: self.stride]
        self.sample.append(kept)
        self.sample_size += kept.size
        if self.sample_size > SAMPLE_CAP:  # halve the sample, and sample half as often
            merged = np.concatenate(self.sample)[::2]
            self.sample, self.sample_size, self.stride = [merged], merged.size, self.stride * 2

    def _count_values(self, counts: Counter[str]) -> None:
        if self.kinds["number"] == self.count - self.missing and len(self.values) > 1000:
            # A numeric column: its statistics say more than its frequent values.
            self.distinct_capped = True
            return
        if self.distinct_capped:
            for v, n in counts.items():
                if v in self.values:
                    self.values[v] += n
            return
        self.values.update(counts)
        if len(self.values) > DISTINCT_CAP:
            self.distinct_capped = True

    # --- the result ----------------------------------------------------------------------

    @property
    def present(self) -> int:
        return self.count - self.missing

    def _all_distinct(self) -> bool:
        return not self.distinct_capped and self.present > 1 and len(self.values) == self.present

    def column_type(self) -> str:
        """empty, integer, number, boolean, date, identifier, category or text."""
        if not self.present:
            return "empty"
        share = {k: n / self.present for k, n in self.kinds.items()}
        if share.get("number", 0) >= TYPE_SHARE:
            if self._looks_like_identifier():
                return "identifier"
            return "integer" if self.all_integers else "number"
        if share.get("boolean", 0) >= TYPE_SHARE:
            return "boolean"
        if share.get("date", 0) >= TYPE_SHARE:
            return "date"
        distinct = len(self.values)
        if (
            not self.distinct_capped
            and distinct <= max(CATEGORY_MAX_DISTINCT, self.present * CATEGORY_MAX_SHARE)
            and distinct <= self.present / 2
        ):
            return "category"
        if self._all_distinct() and self.tokens >= TYPE_SHARE * self.present:
            return "identifier"
        return "text"

    def reason(self, kind: str) -> str:
        """Why the column has its type, in one line."""
        present, share = self.present, self.kinds
        if kind == "empty":
            return "no row has a value"
        if kind == "identifier" and share["number"] >= TYPE_SHARE * present:
            return (
                f"whole numbers from {_plain(self.min)} to {_plain(self.max)}, "
                "each once, without gaps: they count the rows"
            )
        if kind == "identifier":
            examples = ", ".join(f"“{v}”" for v, _ in self.values.most_common(2))
            return f"every value is different and is one short token (like {examples})"
        if kind == "integer":
            return f"{_share(share['number'], present)} of the values are whole numbers"
        if kind == "number":
            return f"{_share(share['number'], present)} of the values are numbers, with decimals"
        if kind == "boolean":
            return f"{_share(share['boolean'], present)} of the values are yes/no values"
        if kind == "date":
            span = f", from {self.date_min} to {self.date_max}" if self.date_min else ""
            return f"{_share(share['date'], present)} of the values are dates{span}"
        distinct = len(self.values)
        if kind == "category":
            return f"{distinct:,} different values repeat across {present:,} rows"
        mixed = [f"{_share(n, present)} {k}" for k, n in share.most_common() if n and k != "text"]
        words = self.text_words / max(self.kinds["text"], 1)
        line = (
            f"{distinct:,}{'+' if self.distinct_capped else ''} different values, "
            f"{words:.1f} words on average"
        )
        return line + (f" (mixed: {', '.join(mixed)} values)" if mixed else "")

    def to_dict(self) -> dict[str, Any]:
        kind = self.column_type()
        distinct = len(self.values)
        d: dict[str, Any] = {
            "name": self.name,
            "type": kind,
            "reason": self.reason(kind),
            "count": self.count,
            "missing": self.missing,
            "missing_pct": round(100 * self.missing / self.count, 2) if self.count else 0.0,
            "distinct": distinct,
            "distinct_is_lower_bound": self.distinct_capped,
            "unique": self._all_distinct() or kind == "identifier",
        }
        if kind in ("integer", "number") and self.n:
            d["stats"] = self._stats()
        if kind in ("category", "text", "boolean", "identifier"):
            d["top_values"] = [
                {"value": v, "count": c, "pct": round(100 * c / self.present, 2)}
                for v, c in self.values.most_common(10)
            ]
        if kind == "text":
            d["mean_words"] = round(self.text_words / max(self.kinds["text"], 1), 1)
            d["mean_length"] = round(self.text_chars / max(self.kinds["text"], 1), 1)
        if kind == "date" and self.date_min:
            d["range"] = {"min": str(self.date_min), "max": str(self.date_max)}
        return d

    def _looks_like_identifier(self) -> bool:
        """Integers that count the rows: 1, 2, 3... without gaps or repeats, starting at 0 or 1
        or in a column named like one (order_id, No.); a run of years is not one."""
        if not self.all_integers or self.n < 3 or self.max - self.min + 1 != self.n:
            return False
        if self.min not in (0, 1) and not ID_NAME_RE.search(self.name):
            return False
        sample = np.concatenate(self.sample)
        return bool(np.unique(sample).size == sample.size)

    def _stats(self) -> dict[str, Any]:
        sample = np.concatenate(self.sample)
        q1, median, q3 = (float(q) for q in np.percentile(sample, [25, 50, 75]))
        counts, edges = np.histogram(sample, bins=min(30, max(5, int(np.sqrt(sample.size)))))
        scale = self.n / sample.size
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "median": median,
            "q1": q1,
            "q3": q3,
            "std": math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0,
            "sum": self.mean * self.n,
            "quantiles_exact": self.stride == 1,
            "histogram": {
                "edges": [float(e) for e in edges],
                "counts": [round(float(c) * scale) for c in counts],
            },
        }


class Correlations:
    """Exact pairwise Pearson correlations over rows where both values are numbers.

    Kept as sums per pair (i, j), all pairs at once with matrix products per chunk.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        k = len(names)
        self.n, self.sx, self.sxx, self.sxy = (np.zeros((k, k)) for _ in range(4))

    def add(self, columns: list[np.ndarray]) -> None:
        if not columns:
            return
        m = np.column_stack(columns)
        both = np.isfinite(m).astype(np.float64)
        m = np.where(both > 0, m, 0.0)
        self.n += both.T @ both
        self.sx += m.T @ both  # sx[i, j]: sum of column i over rows where j is present too
        self.sxx += (m * m).T @ both
        self.sxy += m.T @ m

    def result(self, min_rows: int = 10) -> list[dict[str, Any]]:
        out = []
        for i, j in combinations(range(len(self.names)), 2):
            n = self.n[i, j]
            if n < min_rows:
                continue
            vx = n * self.sxx[i, j] - self.sx[i, j] ** 2
            vy = n * self.sxx[j, i] - self.sx[j, i] ** 2
            if vx <= 1e-12 * n * self.sxx[i, j] or vy <= 1e-12 * n * self.sxx[j, i]:
                continue  # a constant column (up to rounding) correlates with nothing
            r = (n * self.sxy[i, j] - self.sx[i, j] * self.sx[j, i]) / math.sqrt(vx * vy)
            out.append({"a": self.names[i], "b": self.names[j], "r": round(r, 4), "n": int(n)})
        return sorted(out, key=lambda c: -abs(c["r"]))

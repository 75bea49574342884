"""The ``dataset`` pipeline: Parsing -> Profiling -> Charting -> Narrating.

Results: profile.json, chart_*.png, story.md. Parsing normalises any input format into a
headerless UTF-8 CSV in work_dir, so the later stages stream one simple format.
"""

from __future__ import annotations

import csv
import json
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage
from stagecoach.pipelines.dataset_charts import (
    SCATTER_POINTS,
    choose_charts,
    draw_bar,
    draw_histogram,
    draw_scatter,
)
from stagecoach.pipelines.dataset_profile import (
    MAX_CORRELATED_COLUMNS,
    TYPE_SHARE,
    ColumnProfile,
    Correlations,
)
from stagecoach.pipelines.dataset_read import (
    cell_text,
    dataset_format,
    empty,
    open_table,
    row_estimate,
)
from stagecoach.pipelines.dataset_story import story_markdown
from stagecoach.pipelines.progress import StageProgress

ROWS_FILE = "rows.csv"  # headerless, UTF-8, one cell per column as text
PARSED_FILE = "parsed.json"
PROFILE_FILE = "profile.json"
SAMPLE_FILE = "numeric_sample.npy"  # every k-th row of the numeric columns, for scatter plots
SAMPLE_COLUMNS_FILE = "numeric_sample.json"
CHUNK_ROWS = 20_000
DUPLICATE_CHECK_ROWS = 5_000_000  # 8 bytes of hash per row: 40 MB at most


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def parse_dataset(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Parsing": work_dir/rows.csv and parsed.json; progress in rows."""
    fmt = dataset_format(art.original_name, art.file_path, art.mime)
    progress = StageProgress(reporter, parsing_total(art), "Reading rows...")
    table = open_table(art.file_path, fmt)
    rows = ragged = 0
    with open(art.work_dir / ROWS_FILE, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row in table.rows():
            width = len(table.columns)
            if fmt in ("csv", "tsv", "xlsx") and len(row) != width:
                ragged += 1
                row = (list(row) + [None] * width)[:width]
            writer.writerow([cell_text(c) for c in row])
            rows += 1
            if rows % 1000 == 0:
                progress.update(rows)
    if rows == 0:
        raise empty("it has a header but no data rows" if table.columns else "it has no rows")
    meta = {
        "format": fmt,
        "columns": table.columns,
        "rows": rows,
        "ragged_rows": ragged,
        "notes": table.notes(),
    }
    (art.work_dir / PARSED_FILE).write_text(json.dumps(meta) + "\n")
    progress.update(rows)
    progress.finish(f"Read {rows:,} rows")


def _chunks(path: Path, width: int) -> Any:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        while chunk := list(islice(reader, CHUNK_ROWS)):
            # JSON records may lack keys that appeared later: pad them out.
            yield [r if len(r) == width else (r + [""] * width)[:width] for r in chunk]


def profile_dataset(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Profiling": profile.json in results_dir; progress in rows."""
    meta = _read_json(art.work_dir / PARSED_FILE)
    names: list[str] = meta["columns"]
    progress = StageProgress(reporter, meta["rows"], "Profiling columns...")
    columns = [ColumnProfile(n) for n in names]
    correlations: Correlations | None = None
    numeric_index: list[int] = []
    pair_sample: list[np.ndarray] = []
    row_hashes: list[np.ndarray] = []
    done = 0
    for chunk in _chunks(art.work_dir / ROWS_FILE, len(names)):
        cells = list(zip(*chunk, strict=True))
        numbers = [col.add(list(c)) for col, c in zip(columns, cells, strict=True)]
        if correlations is None:  # columns that start out numeric are worth correlating
            numeric_index = [
                i
                for i, col in enumerate(columns)
                if col.present and col.kinds["number"] >= TYPE_SHARE * col.present
            ][:MAX_CORRELATED_COLUMNS]
            correlations = Correlations([names[i] for i in numeric_index])
        correlations.add([numbers[i] for i in numeric_index])
        if numeric_index:  # every k-th row of the numeric columns, for scatter plots
            stride = max(1, meta["rows"] // SCATTER_POINTS)
            first = (-done) % stride
            pair_sample.append(np.column_stack([numbers[i] for i in numeric_index])[first::stride])
        if done < DUPLICATE_CHECK_ROWS:
            row_hashes.append(np.fromiter(map(hash, map(tuple, chunk)), np.int64, len(chunk)))
        done += len(chunk)
        progress.update(done)
    hashes = np.concatenate(row_hashes) if row_hashes else np.zeros(0, np.int64)
    duplicates = int(hashes.size - np.unique(hashes).size)
    profile = {
        "file": art.original_name,
        "format": meta["format"],
        "rows": meta["rows"],
        "columns": len(names),
        "ragged_rows": meta["ragged_rows"],
        "notes": meta.get("notes", []),
        "duplicate_rows": duplicates,
        "duplicates_checked_rows": min(done, DUPLICATE_CHECK_ROWS),
        "column_profiles": [c.to_dict() for c in columns],
        "correlations": (correlations.result() if correlations else [])[:10],
    }
    (art.results_dir / PROFILE_FILE).write_text(json.dumps(profile, indent=2) + "\n")
    if pair_sample:
        np.save(art.work_dir / SAMPLE_FILE, np.concatenate(pair_sample))
        (art.work_dir / SAMPLE_COLUMNS_FILE).write_text(
            json.dumps([names[i] for i in numeric_index])
        )
    progress.finish("Profile complete")


def _scatter_points(art: ArtifactInput, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """The two columns' values in the rows Profiling kept aside, where both are numbers."""
    names = json.loads((art.work_dir / SAMPLE_COLUMNS_FILE).read_text())
    sample = np.load(art.work_dir / SAMPLE_FILE)
    x, y = sample[:, names.index(a)], sample[:, names.index(b)]
    both = np.isfinite(x) & np.isfinite(y)
    return x[both], y[both]


def chart_dataset(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Charting": chart_*.png in results_dir; progress in charts."""
    profile = _read_json(art.results_dir / PROFILE_FILE)
    charts = choose_charts(profile)
    progress = StageProgress(reporter, len(charts), "Drawing charts...")
    by_name = {c["name"]: c for c in profile["column_profiles"]}
    for done, chart in enumerate(charts, 1):
        path = art.results_dir / chart["file"]
        if chart["kind"] == "histogram":
            draw_histogram(by_name[chart["columns"][0]], path)
        elif chart["kind"] == "bar":
            draw_bar(by_name[chart["columns"][0]], path)
        else:
            xs, ys = _scatter_points(art, *chart["columns"])
            draw_scatter(chart, xs, ys, path)
        progress.update(done)
    (art.work_dir / "charts.json").write_text(json.dumps(charts) + "\n")
    progress.finish(f"{len(charts)} charts drawn")


def narrate_dataset(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Narrating": story.md in results_dir; progress in columns described."""
    profile = _read_json(art.results_dir / PROFILE_FILE)
    charts_path = art.work_dir / "charts.json"
    charts = json.loads(charts_path.read_text()) if charts_path.exists() else []
    progress = StageProgress(reporter, len(profile["column_profiles"]), "Writing the story...")
    story = story_markdown(art.original_name, profile, charts, progress.update)
    (art.results_dir / "story.md").write_text(story)
    progress.finish("Story written")


# --- totals -------------------------------------------------------------------------------


def parsing_total(art: ArtifactInput) -> float:
    known = art.media.get("row_count")
    if known:
        return float(known)
    fmt = dataset_format(art.original_name, art.file_path, art.mime)
    return float(row_estimate(art.file_path, fmt))


def parsed_rows(art: ArtifactInput) -> float:
    path = art.work_dir / PARSED_FILE
    return float(_read_json(path)["rows"]) if path.exists() else parsing_total(art)


def chart_count(art: ArtifactInput) -> float:
    path = art.results_dir / PROFILE_FILE
    return float(len(choose_charts(_read_json(path)))) if path.exists() else 4.0


def column_count(art: ArtifactInput) -> float:
    path = art.work_dir / PARSED_FILE
    return float(len(_read_json(path)["columns"])) if path.exists() else 0.0


DATASET = Pipeline(
    name="dataset",
    file_types=("dataset",),
    stages=(
        Stage("Parsing", "rows", parse_dataset, parsing_total),
        Stage("Profiling", "rows", profile_dataset, parsed_rows),
        Stage("Charting", "charts", chart_dataset, chart_count),
        Stage("Narrating", "columns", narrate_dataset, column_count),
    ),
    complete_message="Analysis complete!",
    preload=("matplotlib.figure", "matplotlib.backends.backend_agg", "openpyxl"),
)

"""Data files shaped like real exports: a comment header, a title line, a JSON wrapper object,
and a table of releases whose columns are versions, names, dates, categories and free text."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from stagecoach.media.detect import detect
from stagecoach.media.probe import probe
from stagecoach.pipelines.dataset import DATASET

WORDS = ["alder", "birch", "cedar", "dogwood", "elm", "fir", "ginkgo", "hazel", "ivy"]


def releases(n: int = 60) -> list[dict[str, str | int]]:
    rng = random.Random(3)
    day = dt.date(2019, 1, 7)
    out = []
    for i in range(n):
        day += dt.timedelta(days=rng.randint(5, 40))
        out.append(
            {
                "version": f"{1 + i // 20}.{i % 20}.{rng.randint(0, 3)}",
                "codename": f"{WORDS[i % len(WORDS)]}-{i}",
                "released": day.isoformat(),
                "announced": day.strftime("%a, %d %b %Y 09:30:00 GMT"),
                "channel": rng.choice(["stable", "stable", "beta", "rc"]),
                "downloads": rng.randint(100, 90_000),
                "notes": f"Fixes {rng.randint(2, 40)} bugs in the {WORDS[rng.randint(0, 8)]} "
                f"reader and speeds up release {i}.",
            }
        )
    return out


def releases_csv(path: Path, preamble: str = "") -> Path:
    rows = releases()
    lines = [",".join(rows[0])] + [",".join(f'"{v}"' for v in r.values()) for r in rows]
    path.write_text(preamble + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def profile_of(run) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(run.result("profile.json"))


def types_of(profile: dict) -> dict[str, str]:
    return {c["name"]: c["type"] for c in profile["column_profiles"]}


RELEASE_TYPES = {
    "version": "identifier",
    "codename": "identifier",
    "released": "date",
    "announced": "date",
    "channel": "category",
    "downloads": "integer",
    "notes": "text",
}


def test_release_columns_get_their_own_types_and_reasons(tmp_path, run_stages):
    run = run_stages(DATASET, releases_csv(tmp_path / "releases.csv"))
    profile = profile_of(run)
    assert types_of(profile) == RELEASE_TYPES
    by_name = {c["name"]: c for c in profile["column_profiles"]}
    assert by_name["released"]["range"]["min"] == releases()[0]["released"]
    assert by_name["announced"]["range"] == by_name["released"]["range"]  # RFC 2822 dates
    assert by_name["channel"]["reason"] == "3 different values repeat across 60 rows"
    assert by_name["version"]["reason"].startswith("every value is different and is one short")
    assert by_name["released"]["reason"].startswith("all of the values are dates, from 2019-")
    story = run.result("story.md")
    assert "| released | date | all of the values are dates" in story
    # Only what identifies rows is called an identifier, not every column that never repeats.
    assert story.count("it identifies the rows") == 2


def test_a_comment_header_is_skipped_and_told(tmp_path, run_stages):
    path = releases_csv(tmp_path / "r.csv", "# Data source: release feed of the project\n#\n")
    run = run_stages(DATASET, path)
    profile = profile_of(run)
    assert profile["rows"] == 60
    assert types_of(profile) == RELEASE_TYPES
    assert profile["notes"] == [
        "Skipped 2 comment lines before the table (“# Data source: release feed of the project”)."
    ]
    assert "## How the file was read" in run.result("story.md")
    data = path.read_bytes()
    facts = probe(path, detect(data[:8192], path.name, complete=len(data) <= 8192))
    assert (facts.row_count, facts.column_count) == (60, 7)


def test_a_title_line_and_semicolons(tmp_path, run_stages):
    path = tmp_path / "sales.csv"
    path.write_text("Sales by region, 2024\n\nregion;units\nNorth;3\nSouth;4\nNorth;5\n")
    profile = profile_of(run_stages(DATASET, path))
    assert [c["name"] for c in profile["column_profiles"]] == ["region", "units"]
    assert profile["rows"] == 3
    assert any("Sales by region, 2024" in n for n in profile["notes"])


def test_a_headerless_csv_gets_numbered_columns(tmp_path, run_stages):
    path = tmp_path / "numbers.csv"
    path.write_text("".join(f"{i},{i * 0.5},2024-01-{i:02d}\n" for i in range(1, 21)))
    profile = profile_of(run_stages(DATASET, path))
    assert [c["name"] for c in profile["column_profiles"]] == ["column_1", "column_2", "column_3"]
    assert profile["rows"] == 20


def countries(n: int = 30) -> list[dict[str, str]]:
    return [
        {"alpha_2": f"{chr(65 + i // 26)}{chr(65 + i % 26)}", "name": f"Country {i}"}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("document", "rows", "note"),
    [
        (
            {"3166-1": countries()},
            30,
            "The top level is an object: the 30 records are the list under “3166-1”.",
        ),
        (
            {"version": 3, "result": {"items": countries(12)}},
            12,
            "The top level is an object: the 12 records are the list under “result” → “items”; "
            "the other 1 top-level key is not profiled.",
        ),
        (
            {"AD": {"name": "Andorra"}, "AE": {"name": "Emirates"}},
            2,
            "The top level is an object of 2 objects: each is one row, its name in the column "
            "“key”.",
        ),
    ],
)
def test_a_json_object_wrapper_is_opened(document, rows, note, tmp_path, run_stages):
    path = tmp_path / "iso.json"
    path.write_text(json.dumps(document, indent=2))
    run = run_stages(DATASET, path)
    profile = profile_of(run)
    assert profile["rows"] == rows
    assert profile["columns"] == 2
    assert profile["notes"] == [note]
    data = path.read_bytes()
    facts = probe(path, detect(data[:8192], path.name, complete=len(data) <= 8192))
    assert (facts.row_count, facts.column_count) == (rows, 2)


def test_a_lone_json_object_is_one_row_and_says_so(tmp_path, run_stages):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"name": "x", "size": 3, "tags": "a"}))
    profile = profile_of(run_stages(DATASET, path))
    assert profile["rows"] == 1
    assert "no list of records inside" in profile["notes"][0]


def test_a_title_row_above_a_sheets_table_is_skipped(tmp_path, run_stages):
    import xlsxwriter

    path = tmp_path / "stats.xlsx"
    with xlsxwriter.Workbook(str(path)) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["Table 3. Household size by region, 2023"])
        sheet.write_row(2, 0, ["region", "households", "mean size"])
        for r, row in enumerate([["North", 1200, 2.4], ["South", 900, 2.9], ["East", 700, 2.1]]):
            sheet.write_row(3 + r, 0, row)
    profile = profile_of(run_stages(DATASET, path))
    assert [c["name"] for c in profile["column_profiles"]] == ["region", "households", "mean size"]
    assert profile["rows"] == 3
    assert profile["notes"] == [
        "Skipped 1 row above the table (“Table 3. Household size by region, 2023”)."
    ]

"""The dataset pipeline on generated csv, tsv, xlsx and json files."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.dataset import DATASET, parse_dataset
from tests.pipelines.conftest import RecordingReporter
from tests.pipelines.datasets import (
    COLUMNS,
    sales_rows,
    write_delimited,
    write_json,
    write_xlsx,
)

ROWS = sales_rows(2000)
WRITERS = {
    "sales.csv": lambda p: write_delimited(p, ROWS),
    "sales.tsv": lambda p: write_delimited(p, ROWS, "\t"),
    "sales_semicolon.csv": lambda p: write_delimited(p, ROWS, ";"),
    "sales.xlsx": lambda p: write_xlsx(p, ROWS),
    "sales.json": lambda p: write_json(p, ROWS),
    "sales.jsonl": lambda p: write_json(p, ROWS, lines=True),
}


def column(profile, name):
    return next(c for c in profile["column_profiles"] if c["name"] == name)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_gives_the_same_profile(name, tmp_path, run_stages):
    run = run_stages(DATASET, WRITERS[name](tmp_path / name))

    for reporter in run.reporters.values():
        reporter.assert_complete()
    profile = json.loads(run.result("profile.json"))
    assert profile["rows"] == len(ROWS)
    assert [c["name"] for c in profile["column_profiles"]] == COLUMNS
    types = {c["name"]: c["type"] for c in profile["column_profiles"]}
    assert types == {
        "order_id": "identifier",
        "date": "date",
        "region": "category",
        "quantity": "integer",
        "unit_price": "number",
        "revenue": "number",
        "discount": "number",
        "note": "category",
    }
    prices = [row[4] for row in ROWS]
    stats = column(profile, "unit_price")["stats"]
    assert stats["mean"] == pytest.approx(statistics.fmean(prices))
    assert stats["median"] == pytest.approx(statistics.median(prices))
    assert stats["std"] == pytest.approx(statistics.stdev(prices))
    assert (stats["min"], stats["max"]) == (min(prices), max(prices))
    discount = column(profile, "discount")
    assert discount["missing"] == sum(row[6] is None for row in ROWS)
    assert column(profile, "order_id")["unique"] is True
    region = column(profile, "region")
    assert region["top_values"][0]["value"] == "North"
    assert region["top_values"][0]["pct"] == pytest.approx(50, abs=3)
    quantity, revenue = [row[3] for row in ROWS], [row[5] for row in ROWS]
    pair = next(c for c in profile["correlations"] if {c["a"], c["b"]} == {"quantity", "revenue"})
    assert pair["r"] == pytest.approx(np.corrcoef(quantity, revenue)[0, 1], abs=1e-6)

    charts = [n for n in run.result_names if n.startswith("chart_")]
    assert 2 <= len(charts) <= 4
    assert any(
        "_scatter_unit_price_revenue" in c or "_scatter_quantity_revenue" in c for c in charts
    )
    for chart in charts:
        assert (run.artifact.results_dir / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    story = run.result("story.md")
    assert f"**{len(ROWS):,} rows**" in story
    assert "**discount** is missing in" in story
    assert "**order_id** is different in every row" in story
    assert "“North”" in story
    assert all(f"]({chart})" in story for chart in charts)


def test_row_count_from_media_facts_is_the_parsing_total(tmp_path, make_artifact):
    art = make_artifact(write_delimited(tmp_path / "s.csv", ROWS[:10]), media={"row_count": 10})
    assert DATASET.stage("Parsing").total(art) == 10


def test_estimated_total_is_corrected_when_rows_span_lines(tmp_path, make_artifact):
    path = tmp_path / "multiline.csv"
    path.write_text('id,comment\n1,"first\nline"\n2,"second\nline"\n3,plain\n')
    art = make_artifact(path)
    reporter = RecordingReporter("Parsing", DATASET.stage("Parsing").total(art))
    assert reporter.totals[0] == 5  # the cheap probe counts lines, less the header
    parse_dataset(art, reporter)
    reporter.assert_complete()
    assert reporter.totals[-1] == 3


def test_estimated_total_grows_when_short(tmp_path, make_artifact):
    path = tmp_path / "no_final_newline.csv"
    path.write_text("a,b\n" + "\n".join(f"{i},{i * 2}" for i in range(3000)))
    art = make_artifact(path)
    reporter = RecordingReporter("Parsing", DATASET.stage("Parsing").total(art))
    assert reporter.totals[0] == 2999
    parse_dataset(art, reporter)
    reporter.assert_complete()
    assert reporter.totals[-1] == 3000


def test_duplicates_constants_and_gaps_are_told(tmp_path, run_stages):
    path = tmp_path / "survey.csv"
    lines = ["name,score,country,comment"]
    lines += [f"p{i},{i % 7},NL,{'' if i % 4 else 'ok'}" for i in range(40)]
    lines += ["p1,1,NL,", "p2,2,NL,"]  # exact copies of earlier rows
    path.write_text("\n".join(lines) + "\n")

    run = run_stages(DATASET, path)

    profile = json.loads(run.result("profile.json"))
    assert profile["duplicate_rows"] == 2
    assert column(profile, "comment")["missing"] == 32
    story = run.result("story.md")
    assert "2 rows are exact copies of an earlier row." in story
    assert "**country** has the same value in every row." in story
    assert "**comment** is missing in 76.19 % of rows." in story


@pytest.mark.slow
def test_a_hundred_thousand_rows_go_through_every_stage(tmp_path, run_stages):
    rows = sales_rows(100_000)
    run = run_stages(DATASET, write_delimited(tmp_path / "big.csv", rows))
    for reporter in run.reporters.values():
        reporter.assert_complete()
    profile = json.loads(run.result("profile.json"))
    assert profile["rows"] == 100_000
    assert column(profile, "revenue")["stats"]["sum"] == pytest.approx(sum(r[5] for r in rows))
    # Profiling reports as it goes, not once at the end.
    assert len(run.reporters["Profiling"].progress_calls) >= 5


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.csv", b"", "dataset_empty"),
        ("blank.csv", b"\n\n  \n", "dataset_empty"),
        ("header_only.csv", b"a,b,c\n", "dataset_empty"),
        ("empty.json", b"[]", "dataset_empty"),
        ("random.csv", bytes(range(256)) * 50, "dataset_unreadable"),
        ("random_no_nul.csv", bytes(range(1, 256)) * 50, "dataset_unreadable"),
        ("random_no_nul.json", bytes(range(1, 256)) * 50, "dataset_unreadable"),
        ("random.xlsx", bytes(range(256)) * 50, "dataset_unreadable"),
        ("random.json", bytes(range(256)) * 50, "dataset_unreadable"),
        ("broken.json", b'[{"a": 1}, {"a": 2', "dataset_unreadable"),
        ("scalar.json", b"42", "dataset_unreadable"),
    ],
)
def test_bad_data_files_are_permanent_errors(name, content, code, tmp_path, make_artifact):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StageError) as caught:
        parse_dataset(make_artifact(path), RecordingReporter("Parsing"))
    error = caught.value.error
    assert (error.code, error.category, error.retryable) == (code, ErrorCategory.INPUT, False)
    assert error.message and error.hint

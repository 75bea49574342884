"""Every probe and pipeline on a stored blob: storage keys have no extension, as in production.

The upload's name (``report.xlsx``) is display text only; the file the probe and the stages
open is ``<storage>/<key>`` with no extension at all.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from stagecoach.media.detect import detect
from stagecoach.media.probe import probe
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.dataset import DATASET
from stagecoach.pipelines.document import DOCUMENT
from stagecoach.pipelines.local import run_pipeline
from tests.pipelines.conftest import PipelineRun
from tests.pipelines.datasets import sales_rows, write_delimited, write_json, write_xlsx
from tests.pipelines.documents import SOLAR, make_docx, make_pdf
from tests.samples import wav_bytes

ROWS = sales_rows(300)
HTML = "<!DOCTYPE html><html><body>" + "".join(f"<p>{s}</p>" for s in SOLAR) + "</body></html>"


def _write(kind: str, path: Path) -> Path:
    writers = {
        "xlsx": lambda p: write_xlsx(p, ROWS),
        "csv": lambda p: write_delimited(p, ROWS),
        "tsv": lambda p: write_delimited(p, ROWS, "\t"),
        "json": lambda p: write_json(p, ROWS),
        "pdf": lambda p: make_pdf(p, 3),
        "docx": make_docx,
        "wav": lambda p: p.write_bytes(wav_bytes(2.0)) and p,
        "html": lambda p: p.write_text(HTML) and p,
    }
    return writers[kind](path)


def _stored(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """The file as storage keeps it (no extension), and the name it was uploaded under."""
    made = _write(kind, tmp_path / f"made.{kind}")
    blob = tmp_path / "0f3c9a2e4b7d"
    made.rename(blob)
    return blob, f"upload.{kind}"


@pytest.mark.parametrize(
    ("kind", "fact", "value"),
    [
        ("xlsx", "row_count", 300),
        ("csv", "row_count", 300),
        ("tsv", "row_count", 300),
        ("json", "row_count", 300),
        ("pdf", "page_count", 3),
        ("docx", "page_count", 1),
        ("wav", "duration_seconds", 2.0),
        ("html", "page_count", 1),
    ],
)
def test_probe_reads_a_blob_with_no_extension(kind, fact, value, tmp_path):
    blob, name = _stored(tmp_path, kind)
    data = blob.read_bytes()
    facts = probe(blob, detect(data[:8192], name, complete=len(data) <= 8192))
    assert getattr(facts, fact) == value
    if facts.file_type == "dataset":
        assert facts.column_count == 8


def _run(pipeline: Pipeline, art) -> PipelineRun:  # type: ignore[no-untyped-def]
    run = PipelineRun(art)
    run.timings = run_pipeline(pipeline, art, run.reporter_for)
    return run


@pytest.mark.parametrize("kind", ["xlsx", "csv", "tsv", "json"])
@pytest.mark.parametrize("named", [True, False], ids=["uploaded-with-name", "no-name-at-all"])
def test_dataset_pipeline_on_a_blob(kind, named, tmp_path, make_artifact):
    blob, name = _stored(tmp_path, kind)
    data = blob.read_bytes()
    art = make_artifact(blob, file_type="dataset")
    if named:  # as the worker builds it: the upload's name and the detected type
        fmt = detect(data[:8192], name, complete=len(data) <= 8192)
        art = dataclasses.replace(art, original_name=name, mime=fmt.mime)
    run = _run(DATASET, art)
    profile = json.loads(run.result("profile.json"))
    assert profile["rows"] == 300
    assert profile["columns"] == 8
    # Without a name a TSV is a delimited file whose delimiter is sniffed: a tab.
    assert profile["format"] == (kind if named or kind != "tsv" else "csv")


@pytest.mark.parametrize("kind", ["pdf", "docx", "html"])
@pytest.mark.parametrize("named", [True, False], ids=["uploaded-with-name", "no-name-at-all"])
def test_document_pipeline_on_a_blob(kind, named, tmp_path, make_artifact):
    blob, name = _stored(tmp_path, kind)
    art = make_artifact(blob, file_type="document")
    if named:
        data = blob.read_bytes()
        fmt = detect(data[:8192], name, complete=len(data) <= 8192)
        art = dataclasses.replace(art, original_name=name, mime=fmt.mime)
    run = _run(DOCUMENT, art)
    summary = run.result("summary.md")
    assert "solar panels" in summary.lower() and "<p>" not in summary

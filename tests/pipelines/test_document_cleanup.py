"""Summaries of reference documents: running headers, footers, page numbers and tables out."""

from __future__ import annotations

import json

from stagecoach.pipelines.document import DOCUMENT
from stagecoach.pipelines.document_pages import pages_prose, strip_running_lines
from tests.pipelines.documents import MANUAL_TITLE, SOLAR, make_docx, make_manual_pdf


def test_running_lines_recurring_at_the_edges_of_pages_are_removed():
    topics = ["roofs", "cells", "inverters", "batteries", "wiring", "grids"]
    pages = [
        f"ACME Manual, chapter {n}\nThis page is about {t}.\nIt tells how {t} work.\n"
        f"And what {t} cost.\n- {n} -\n© ACME Energy"
        for n, t in enumerate(topics, 1)
    ]
    clean = strip_running_lines(pages)
    assert clean.removed_lines == 6 * 3
    assert (
        clean.pages[0]
        == "This page is about roofs.\nIt tells how roofs work.\nAnd what roofs cost."
    )


def test_lines_that_recur_in_the_body_are_kept_and_short_documents_are_left_alone():
    pages = ["Intro\nSame words\nText one.", "Other\nMiddle\nSame words\nA\nB\nC\nText."]
    assert strip_running_lines(pages).removed_lines == 0
    # A page number alone is taken out whatever the length of the document.
    assert strip_running_lines(["Text here.\n12"]).pages == ["Text here."]


def test_prose_mends_hyphenated_words_and_keeps_sentences_over_page_breaks():
    prose = pages_prose(["Solar panels need sun-\nlight to work and they", "last for years."])
    assert prose == "Solar panels need sunlight to work and they last for years."
    prose = pages_prose(["It ends here.\nInstalling panels\nFirst check the roof."])
    assert prose.split("\n\n") == ["It ends here.", "Installing panels", "First check the roof."]


def test_a_manual_pdf_is_summarised_without_its_running_headers_and_footers(tmp_path, run_stages):
    run = run_stages(DOCUMENT, make_manual_pdf(tmp_path / "manual.pdf", 9))
    summary = run.result("summary.md")
    points = summary.split("## Key terms")[0]
    assert MANUAL_TITLE not in points and "Page " not in points
    assert any(s in points for s in SOLAR)
    assert "Running headers, footers and page numbers left out of the summary: 18 lines" in summary
    full_text = run.result("manual.txt")
    assert MANUAL_TITLE in full_text and "Page 9 of 9" in full_text  # the full text keeps all
    meta = json.loads((run.artifact.work_dir / "extracted.json").read_text())
    assert meta["running_lines_removed"] == 18


def test_markdown_tables_are_left_out_of_the_summary(tmp_path, run_stages):
    md = tmp_path / "guide.md"
    md.write_text(
        "# Solar guide\n\n"
        + " ".join(SOLAR)
        + "\n\n| Year | Panels | Cost |\n|------|:------:|-----:|\n| 2023 | 1200 | 5.5 |\n"
        + "| 2024 | 1500 | 4.9 |\n\nYear | Panels\n--- | ---\n2025 | 1900\n\n"
        + "Solar panels on every roof are the goal of the town council.\n"
    )
    run = run_stages(DOCUMENT, md)
    summary = run.result("summary.md")
    assert "|" not in summary.split("## About")[0]
    assert "- Tables: 2 (kept in the full text, not summarised)" in summary


def test_docx_tables_are_in_the_text_but_not_the_summary(tmp_path, run_stages):
    run = run_stages(DOCUMENT, make_docx(tmp_path / "notes.docx"))
    assert "Year | Panels installed" in run.result("notes.txt")
    summary = run.result("summary.md")
    assert "Panels installed" not in summary and "- Tables: 1" in summary

"""The document pipeline on generated PDF, docx, html, markdown and text files."""

from __future__ import annotations

import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.document import CHECKPOINT_PAGES, DOCUMENT, extract_document
from tests.pipelines.conftest import RecordingReporter
from tests.pipelines.documents import ASIDES, SOLAR, make_docx, make_pdf, page_text


def summary_points(summary_md: str) -> list[str]:
    body = summary_md.split("## Key terms")[0]
    return [line[2:] for line in body.splitlines() if line.startswith("- ")]


def test_pdf_is_extracted_page_by_page_and_summarised(tmp_path, run_stages):
    pdf = make_pdf(tmp_path / "Solar Report (final).pdf", pages=12)

    run = run_stages(DOCUMENT, pdf)

    extracting = run.reporters["Extracting"]
    extracting.assert_complete()
    run.reporters["Summarizing"].assert_complete()
    assert extracting.totals[0] == 12  # probed from the file before the stage ran
    assert extracting.units[-1] == 12
    assert run.result_names == ["Solar_Report_final.txt", "summary.md"]
    text = run.result("Solar_Report_final.txt")
    for number in (1, 7, 12):
        assert " ".join(page_text(number).split()) in " ".join(text.split())

    summary = run.result("summary.md")
    assert summary.startswith("# Summary: Solar Report (final).pdf")
    points = summary_points(summary)
    # Extractive: every point is a sentence of the document, in the document's order.
    assert all(" ".join(p.split()) in " ".join(text.split()) for p in points)
    # The sentences about the subject are chosen, once each; the asides are not.
    assert points == SOLAR
    assert "solar" in summary.split("## Key terms")[1].split("\n\n")[1]
    assert "12 pages" in summary


def test_page_count_from_media_facts_is_used_as_the_total(tmp_path, make_artifact):
    art = make_artifact(make_pdf(tmp_path / "a.pdf", pages=3), media={"page_count": 3})
    assert DOCUMENT.stage("Extracting").total(art) == 3


def test_docx_paragraphs_and_tables_are_extracted(tmp_path, run_stages):
    run = run_stages(DOCUMENT, make_docx(tmp_path / "notes.docx"))
    text = run.result("notes.txt")
    assert text.startswith("Solar energy at home")
    assert all(s in text for s in SOLAR + ASIDES[:2])
    assert "Year | Panels installed" in text
    assert summary_points(run.result("summary.md"))
    for reporter in run.reporters.values():
        reporter.assert_complete()


def test_html_keeps_the_words_and_drops_scripts_and_markup(tmp_path, run_stages):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Solar news</title><style>p {color: red}</style>"
        "<script>var tracking = 'do not show';</script></head><body>"
        + "".join(f"<p>{s} &amp; more</p>" for s in SOLAR)
        + "</body></html>"
    )
    run = run_stages(DOCUMENT, page)
    text = run.result("page.txt")
    assert "Solar news" in text and "& more" in text
    assert "tracking" not in text and "color" not in text and "<p>" not in text


def test_markdown_summary_has_no_markup(tmp_path, run_stages):
    md = tmp_path / "readme.md"
    md.write_text(
        "# Solar\n\n"
        + "\n".join(f"- **{s}** see [link](http://x.example)" for s in SOLAR)
        + "\n\n```\ncode block that is not prose.\n```\n"
    )
    run = run_stages(DOCUMENT, md)
    assert run.result("readme.md".replace(".md", ".txt")) == md.read_text()  # source kept
    summary = run.result("summary.md")
    assert "**" not in summary and "](http" not in summary and "code block" not in summary


def test_windows_encoded_text_is_read(tmp_path, run_stages):
    txt = tmp_path / "letter.txt"
    txt.write_bytes(("Café prices rose. " + " ".join(SOLAR)).encode("cp1252"))
    run = run_stages(DOCUMENT, txt)
    assert run.result("letter.txt").startswith("Café prices rose.")


# --- bad input -----------------------------------------------------------------------------


def extract_error(art) -> StageError:
    with pytest.raises(StageError) as caught:
        extract_document(art, RecordingReporter("Extracting"))
    error = caught.value.error
    assert error.category == ErrorCategory.INPUT and error.retryable is False
    assert error.message and error.hint
    return caught.value


def test_encrypted_pdf_is_a_permanent_error_with_a_hint(tmp_path, make_artifact):
    pdf = make_pdf(tmp_path / "locked.pdf", pages=2, user_password="letmein")
    error = extract_error(make_artifact(pdf)).error
    assert error.code == "pdf_encrypted"
    assert "password" in error.message and "unprotected copy" in error.hint


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 40, id="garbage-after-header"),
        pytest.param(b"\x89\x12 not a pdf at all" * 500, id="random-bytes"),
    ],
)
def test_corrupt_pdf_is_a_permanent_error(content, tmp_path, make_artifact):
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    assert extract_error(make_artifact(path)).error.code == "pdf_corrupt"


def test_truncated_pdf_is_a_permanent_error(tmp_path, make_artifact):
    pdf = make_pdf(tmp_path / "whole.pdf", pages=5)
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(pdf.read_bytes()[:400])
    assert extract_error(make_artifact(cut)).error.code == "pdf_corrupt"


def test_random_bytes_named_docx_is_a_permanent_error(tmp_path, make_artifact):
    path = tmp_path / "report.docx"
    path.write_bytes(bytes(range(256)) * 100)
    assert extract_error(make_artifact(path)).error.code == "docx_corrupt"


@pytest.mark.parametrize("content", [bytes(range(256)) * 100, bytes(range(1, 256)) * 100])
def test_binary_data_named_txt_is_a_permanent_error(content, tmp_path, make_artifact):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert extract_error(make_artifact(path)).error.code == "not_text"


def test_pdf_extraction_checkpoints_pages_and_resumes_after_them(tmp_path, make_artifact):
    pdf = make_pdf(tmp_path / "long.pdf", pages=CHECKPOINT_PAGES * 2 + 5)
    whole = make_artifact(pdf)
    extract_document(whole, RecordingReporter("Extracting"))
    expected = (whole.results_dir / "long.txt").read_text()

    stopped = RecordingReporter("Extracting", abort_after_checkpoints=1)
    with pytest.raises(StageError):
        extract_document(make_artifact(pdf), stopped)
    kept = stopped.checkpoints[-1]
    assert kept["pages_done"] == CHECKPOINT_PAGES

    again = make_artifact(pdf)
    total = DOCUMENT.stage("Extracting").total(again)
    resumed = RecordingReporter("Extracting", total, resume=kept)
    extract_document(again, resumed)
    resumed.assert_complete()
    assert resumed.units[0] == CHECKPOINT_PAGES  # carries on from the kept pages
    assert (again.results_dir / "long.txt").read_text() == expected
    # A checkpoint of another file is not trusted.
    other = RecordingReporter("Extracting", resume={**kept, "sha256": "0" * 64})
    extract_document(make_artifact(pdf), other)
    assert other.units[0] < CHECKPOINT_PAGES

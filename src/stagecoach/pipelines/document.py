"""The ``document`` pipeline: Extracting -> Summarizing. Results: ``<name>.txt``, summary.md."""

from __future__ import annotations

import json
import math
from typing import Any

from stagecoach.domain.errors import StageError
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage
from stagecoach.pipelines.document_extract import (
    CHARS_PER_PAGE,
    decode_text,
    document_format,
    docx_content,
    docx_page_estimate,
    html_text,
    markdown_prose,
    open_pdf,
    pdf_page_count,
    pdf_pages,
)
from stagecoach.pipelines.document_pages import pages_prose, strip_running_lines
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.summary import summarize
from stagecoach.pipelines.text import safe_stem, sentences, top_content_words, words

META_FILE = "extracted.json"
PROSE_FILE = "prose.txt"  # the text as summarising sees it (markup removed)
WORDS_PER_MINUTE_READING = 230
# Extracted text is checkpointed every this many pages (each checkpoint holds all of it).
CHECKPOINT_PAGES = 20


def text_result_name(art: ArtifactInput) -> str:
    return safe_stem(art.original_name, "document") + ".txt"


def resumed_pages(saved: dict[str, Any] | None, sha256: str, pages: int) -> dict[str, Any]:
    """A PDF's pages kept by a checkpoint of this very file; else none."""
    fresh: dict[str, Any] = {"pages_done": 0, "unreadable": 0, "text": ""}
    if not saved or saved.get("sha256") != sha256:
        return fresh
    try:
        done, unreadable, text = int(saved["pages_done"]), int(saved["unreadable"]), saved["text"]
    except (KeyError, TypeError, ValueError):
        return fresh
    if not (0 <= done <= pages and 0 <= unreadable <= done and isinstance(text, str)):
        return fresh
    return {"pages_done": done, "unreadable": unreadable, "text": text}


def _pages_of(chars: int) -> int:
    return max(1, math.ceil(chars / CHARS_PER_PAGE))


def extract_document(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Extracting": ``<name>.txt`` in results_dir; progress in pages."""
    fmt = document_format(art.original_name, art.mime, art.file_path)
    progress = StageProgress(reporter, extracting_total(art), "Extracting text...")
    out_path = art.results_dir / text_result_name(art)
    meta: dict[str, Any] = {"format": fmt, "text_file": out_path.name}
    if fmt == "pdf":
        reader = open_pdf(art.file_path)
        progress.set_total(len(reader.pages))
        kept = resumed_pages(reporter.resumed_state(), art.sha256, len(reader.pages))
        unreadable, first = kept["unreadable"], kept["pages_done"] + 1
        # pages read in this run (a resumed run finds running lines in the pages it reads)
        pages: list[str] = []
        if kept["pages_done"]:
            progress.update(kept["pages_done"])
            progress.flush()  # the first report counts the pages the checkpoint kept
        with open(out_path, "w", encoding="utf-8") as out:
            out.write(kept["text"])
            for number, page in enumerate(pdf_pages(reader, first - 1), first):
                if page is None:
                    unreadable += 1
                else:
                    out.write(page.strip() + "\n\n")
                    pages.append(page)
                progress.update(number, f"Extracting text: page {number} of {progress.total}")
                if number % CHECKPOINT_PAGES == 0 and number < len(reader.pages):
                    out.flush()
                    progress.flush()
                    reporter.checkpoint(
                        {
                            "sha256": art.sha256,
                            "pages_done": number,
                            "unreadable": unreadable,
                            "text": out_path.read_text(encoding="utf-8"),
                        }
                    )
        if unreadable == len(reader.pages):
            raise StageError(
                "pdf_corrupt",
                "None of the PDF's pages could be read.",
                hint="Open the file in a PDF viewer, save a new copy and upload that.",
            )
        # The .txt result keeps every line; the prose loses running headers and page numbers.
        clean = strip_running_lines(pages)
        prose = pages_prose(clean.pages)
        meta.update(
            pages=len(reader.pages),
            unreadable_pages=unreadable,
            running_lines_removed=clean.removed_lines,
        )
    else:
        if fmt == "docx":
            docx = docx_content(art.file_path)
            text, prose, meta["tables"] = docx.text, docx.prose, docx.tables
        else:
            text = decode_text(art.file_path.read_bytes())
            if fmt == "markdown":
                prose, meta["tables"] = markdown_prose(text)
            else:
                prose = html_text(text) if fmt == "html" else text
            if fmt == "html":
                text = prose
        out_path.write_text(text, encoding="utf-8")
        meta["pages"] = _pages_of(len(prose))
        progress.update(meta["pages"])
    (art.work_dir / PROSE_FILE).write_text(prose, encoding="utf-8")
    meta.update(
        characters=len(prose),
        words=len(words(prose)),
        sentences=len(sentences(prose)),
    )
    (art.work_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    progress.finish("Text extracted")


def summarize_document(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Summarizing": summary.md in results_dir; progress in sentences."""
    meta = json.loads((art.work_dir / META_FILE).read_text())
    prose = (art.work_dir / PROSE_FILE).read_text(encoding="utf-8")
    all_sentences = sentences(prose)
    progress = StageProgress(reporter, len(all_sentences), "Summarizing...")
    chosen = summarize(all_sentences)
    progress.update(len(all_sentences))
    terms = top_content_words(words(prose), 12)
    (art.results_dir / "summary.md").write_text(summary_markdown(art, meta, chosen, terms))
    progress.finish("Summary written")


def summary_markdown(
    art: ArtifactInput, meta: dict[str, Any], chosen: list[str], terms: list[tuple[str, int]]
) -> str:
    lines = [f"# Summary: {art.original_name}", ""]
    if chosen:
        lines += [*chosen, ""] if len(chosen) == 1 else [f"- {s}" for s in chosen] + [""]
    else:
        lines += [
            "No text could be found in this document. If it is a scan, its pages are images: "
            "text recognition (OCR) is not part of this pipeline.",
            "",
        ]
    if terms:
        lines += ["## Key terms", "", ", ".join(f"{w} ({n})" for w, n in terms), ""]
    minutes = max(1, round(meta["words"] / WORDS_PER_MINUTE_READING))
    fmt = meta["format"].upper() if meta["format"] in ("pdf", "html") else meta["format"]
    lines += [
        "## About the document",
        "",
        f"- Format: {fmt}" + (f", {meta['pages']} pages" if meta["format"] == "pdf" else ""),
        f"- Words: {meta['words']:,} (about {minutes} min of reading)",
        f"- Sentences: {meta['sentences']:,}",
    ]
    if meta.get("unreadable_pages"):
        lines.append(f"- Pages that could not be read: {meta['unreadable_pages']}")
    if meta.get("running_lines_removed"):
        lines.append(
            f"- Running headers, footers and page numbers left out of the summary: "
            f"{meta['running_lines_removed']:,} lines"
        )
    if meta.get("tables"):
        lines.append(f"- Tables: {meta['tables']} (kept in the full text, not summarised)")
    lines += [f"- Full text: {meta['text_file']}", ""]
    return "\n".join(lines)


def extracting_total(art: ArtifactInput) -> float:
    known = art.media.get("page_count")
    if known:
        return float(known)
    fmt = document_format(art.original_name, art.mime, art.file_path)
    if fmt == "pdf":
        return float(pdf_page_count(art.file_path) or 1)
    if fmt == "docx":
        return float(docx_page_estimate(art.file_path) or 1)
    return float(_pages_of(art.size))


def sentence_total(art: ArtifactInput) -> float:
    try:
        return float(json.loads((art.work_dir / META_FILE).read_text())["sentences"])
    except FileNotFoundError:
        return 0.0


DOCUMENT = Pipeline(
    name="document",
    file_types=("document",),
    stages=(
        Stage("Extracting", "pages", extract_document, extracting_total),
        Stage("Summarizing", "sentences", summarize_document, sentence_total),
    ),
    complete_message="Document processed!",
    preload=("pypdf", "docx"),
)

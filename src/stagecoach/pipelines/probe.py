"""Media facts of an uploaded file, read cheaply from its header (for the upload service).

Stages use these as their totals when present; each fact is None when it cannot be known
without processing the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stagecoach.pipelines.audio_decode import probe_duration
from stagecoach.pipelines.dataset_read import dataset_format, row_estimate
from stagecoach.pipelines.document_extract import document_format, pdf_page_count


def media_facts(path: Path, file_type: str, original_name: str, mime: str = "") -> dict[str, Any]:
    """``{"duration_seconds", "page_count", "row_count"}`` as far as the header tells."""
    facts: dict[str, Any] = {"duration_seconds": None, "page_count": None, "row_count": None}
    if file_type in ("audio", "video"):
        duration = probe_duration(path)
        facts["duration_seconds"] = round(duration, 3) if duration else None
    elif file_type == "document" and document_format(original_name, mime, path) == "pdf":
        facts["page_count"] = pdf_page_count(path)
    elif file_type == "dataset":
        # A line count: exact for ordinary CSV, an estimate when cells span lines.
        facts["row_count"] = row_estimate(path, dataset_format(original_name, path)) or None
    return facts

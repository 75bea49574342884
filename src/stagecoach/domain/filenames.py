"""Client file names are display text only: cleaned here, never used as a path."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 255
# Bidirectional overrides let "gpj.exe" pose as "exe.jpg"; zero-width marks hide text.
_INVISIBLE = {
    0x200B,
    0x200C,
    0x200D,
    0x200E,
    0x200F,
    0x2060,
    0xFEFF,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}


def display_name(raw: str | bytes | None, limit: int = MAX_NAME_CHARS) -> str:
    """The name to show: valid UTF-8, no control characters, at most ``limit`` characters
    with its extension kept. Path separators and HTML stay as text (escaping is the
    output's job)."""
    if raw is None:
        return "unnamed"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cs") and ord(ch) not in _INVISIBLE
    ).strip()
    if not text:
        return "unnamed"
    if len(text) <= limit:
        return text
    stem, dot, ext = text.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16:
        return stem[: limit - len(ext) - 1].rstrip() + "." + ext
    return text[:limit]


def extension(name: str) -> str:
    """The lower-case extension without its dot ("" when there is none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return ext.lower() if dot and stem else ""


MAX_CASE_NAME = 200


def case_name_text(raw: str | None) -> str | None:
    """A case name as stored: the display-name rule (no control or invisible characters),
    stripped; ``None`` when nothing is left. Too long after cleaning: ``ValueError``. One
    rule for uploads and for jobs created over the API."""
    value = (raw or "").strip()
    cleaned = display_name(value, limit=10_000) if value else ""
    if cleaned == "unnamed" and value != "unnamed":
        cleaned = ""  # nothing printable was sent
    if len(cleaned) > MAX_CASE_NAME:
        raise ValueError(f"case_name is longer than {MAX_CASE_NAME} characters")
    return cleaned or None


def download_name(recording: str | None, result: str) -> str:
    """A result's download name, carrying the recording's: ("Session 3.mp3", "transcript.txt")
    -> "Session 3 - transcript.txt". No separators or quotes reach a Content-Disposition."""
    base = (recording or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rpartition(".")[0] or base
    stem = re.sub(r'[\x00-\x1f"/\\]', "", stem).strip()
    if not stem or result.startswith(stem):
        return result
    return f"{stem} - {result}"

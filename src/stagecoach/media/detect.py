"""File type by content (magic bytes), checked against the name's extension.

``detect`` looks at the first ``HEAD_BYTES`` of a file, so an upload can be refused before
the rest of it is stored. Containers whose kind is only known from their streams (an
audio-only .mp4 or .webm) are settled later by ``probe``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stagecoach.domain.filenames import extension

HEAD_BYTES = 8192


@dataclass(frozen=True)
class Format:
    name: str  # wav, mp3, pdf, csv, ...
    file_type: str  # audio, video, document, dataset
    mime: str
    family: str  # the signature that identifies it: riff-wave, iso-bmff, text, ...
    label: str  # for messages: "MP3 audio"


FORMATS = {
    f.name: f
    for f in (
        Format("wav", "audio", "audio/wav", "riff-wave", "WAV audio"),
        Format("mp3", "audio", "audio/mpeg", "mpeg-audio", "MP3 audio"),
        Format("m4a", "audio", "audio/mp4", "iso-bmff", "M4A audio"),
        Format("ogg", "audio", "audio/ogg", "ogg", "Ogg audio"),
        Format("opus", "audio", "audio/opus", "ogg", "Opus audio"),
        Format("flac", "audio", "audio/flac", "flac", "FLAC audio"),
        Format("webm", "video", "video/webm", "ebml", "WebM media"),
        Format("mp4", "video", "video/mp4", "iso-bmff", "MP4 video"),
        Format("mov", "video", "video/quicktime", "iso-bmff", "QuickTime video"),
        Format("mkv", "video", "video/x-matroska", "ebml", "Matroska video"),
        Format("pdf", "document", "application/pdf", "pdf", "PDF document"),
        Format(
            "docx",
            "document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "zip-docx",
            "Word document",
        ),
        Format("txt", "document", "text/plain", "text", "plain text"),
        Format("md", "document", "text/markdown", "text", "Markdown text"),
        Format("html", "document", "text/html", "text", "HTML document"),
        Format("csv", "dataset", "text/csv", "text", "CSV data"),
        Format("tsv", "dataset", "text/tab-separated-values", "text", "TSV data"),
        Format(
            "xlsx",
            "dataset",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "zip-xlsx",
            "Excel workbook",
        ),
        Format("json", "dataset", "application/json", "text", "JSON data"),
    )
}
ALL_FORMATS = tuple(FORMATS)

# Extension -> the format it names. Within a family the extension decides the format.
EXTENSIONS = {
    "wav": "wav",
    "wave": "wav",
    "mp3": "mp3",
    "m4a": "m4a",
    "m4b": "m4a",
    "ogg": "ogg",
    "oga": "ogg",
    "opus": "opus",
    "flac": "flac",
    "webm": "webm",
    "mp4": "mp4",
    "m4v": "mp4",
    "mov": "mov",
    "qt": "mov",
    "mkv": "mkv",
    "mka": "mkv",
    "pdf": "pdf",
    "docx": "docx",
    "txt": "txt",
    "text": "txt",
    "md": "md",
    "markdown": "md",
    "html": "html",
    "htm": "html",
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "xlsx": "xlsx",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
}


class Rejected(Exception):
    """The file is not accepted. ``status`` 415 (type) or 422 (empty, damaged)."""

    def __init__(self, reason: str, status: int = 415) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def detect(
    head: bytes, name: str, *, complete: bool, accepted: tuple[str, ...] = ALL_FORMATS
) -> Format:
    """The format of a file from its first bytes (``complete``: they are the whole file)."""
    if not head:
        raise Rejected("the file is empty", 422)
    family, content_format = _signature(head, complete)
    ext = extension(name)
    named = FORMATS.get(EXTENSIONS.get(ext, ""))
    if family is None or (family == "zip" and named is None):
        if family == "zip":
            raise Rejected("the content is a ZIP archive, which is not accepted")
        raise Rejected(
            "the content is not a supported type (its first bytes match no accepted format)"
        )
    # A zip whose first bytes do not show what it holds: its name says, ``probe`` checks.
    tentative = family == "zip" and named is not None and named.family.startswith("zip-")
    if named is not None and named.family != family and not tentative:
        found = FORMATS[content_format].label if content_format else "ZIP archive"
        raise Rejected(
            f"the content is {_article(found)} {found}, not {named.label} as the "
            f".{ext} extension says"
        )
    fmt = named if named is not None else FORMATS[content_format or "txt"]
    if fmt.name not in accepted:
        raise Rejected(f"{fmt.label} files are not accepted here")
    return fmt


def _article(label: str) -> str:
    return "an" if label[:1].lower() in "aeiou" or label.startswith(("MP", "M4", "HTML")) else "a"


def _signature(head: bytes, complete: bool) -> tuple[str | None, str | None]:
    """(family, format the content alone suggests)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "riff-wave", "wav"
    if head[:3] == b"ID3" or _mpeg_frames(head):
        return "mpeg-audio", "mp3"
    if head[:4] == b"fLaC":
        return "flac", "flac"
    if head[:4] == b"OggS":
        return "ogg", ("opus" if b"OpusHead" in head[:512] else "ogg")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "iso-bmff", "m4a"
        return "iso-bmff", ("mov" if brand == b"qt  " else "mp4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "iso-bmff", "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "ebml", ("webm" if b"webm" in head[:64] else "mkv")
    if head[:5] == b"%PDF-":
        return "pdf", "pdf"
    if head[:4] == b"PK\x03\x04":
        # Office files name their parts in the first local headers.
        if b"word/" in head:
            return "zip-docx", "docx"
        if b"xl/" in head:
            return "zip-xlsx", "xlsx"
        return "zip", None
    if _is_text(head, complete):
        return "text", _text_format(head)
    return None, None


def _is_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    sample = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if complete or exc.start < len(sample) - 3:
            return False
        text = sample[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f")
    return controls <= max(1, len(text) // 100)


def _text_format(head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    if start.startswith((b"{", b"[")):
        return "json"
    return "txt"


# MPEG audio frame headers: bitrates (kbit/s) of MPEG-1 layer III and MPEG-2/2.5 layer III.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(b: bytes, i: int) -> int | None:
    if i + 4 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xE0) != 0xE0:
        return None
    version = (b[i + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (b[i + 1] >> 1) & 3  # 1: layer III
    bitrate_i, rate_i, padding = b[i + 2] >> 4, (b[i + 2] >> 2) & 3, (b[i + 2] >> 1) & 1
    if version == 1 or layer != 1 or rate_i == 3 or bitrate_i in (0, 15):
        return None
    bitrate = _BITRATES[1 if version == 3 else 2][bitrate_i] * 1000
    rate = _RATES[version][rate_i]
    return (144 if version == 3 else 72) * bitrate // rate + padding


def _mpeg_frames(head: bytes) -> bool:
    """Two MPEG layer III frames in a row (one alone matches random bytes too often)."""
    first = _frame_length(head, 0)
    if first is None:
        return False
    if first + 4 > len(head):
        return True
    return _frame_length(head, first) is not None

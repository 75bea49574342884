"""A transcript (timed segments of timed words) and the files it is written as."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRANSCRIPT_FILE = "transcript.json"  # in work_dir, for Analyzing
# A pause this long between two segments starts a new paragraph of the .txt; so does a
# paragraph that has gone on this long (a monologue without pauses is still readable).
PARAGRAPH_PAUSE_SECONDS = 2.0
PARAGRAPH_MAX_SECONDS = 120.0
NO_SPEECH_TEXT = "[No speech found in this recording.]\n"


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the recording
    end: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: list[Any]) -> Segment:
        """From the compact form checkpoints keep: [start, end, text, [[word, start, end]]]."""
        start, end, text, words = row
        return cls(float(start), float(end), str(text), [Word(str(w), a, b) for w, a, b in words])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        words = [Word(w["text"], w["start"], w["end"]) for w in d.get("words", [])]
        return cls(d["start"], d["end"], d["text"], words)


def _clock(seconds: float, decimal: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def _stamp(seconds: float) -> str:
    whole = int(seconds)
    return f"[{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}]"


def paragraphs(segments: list[Segment]) -> list[list[Segment]]:
    """Segments grouped into paragraphs, split at pauses."""
    out: list[list[Segment]] = []
    for seg in segments:
        if (
            out
            and seg.start - out[-1][-1].end < PARAGRAPH_PAUSE_SECONDS
            and seg.start - out[-1][0].start < PARAGRAPH_MAX_SECONDS
        ):
            out[-1].append(seg)
        else:
            out.append([seg])
    return out


def to_txt(segments: list[Segment]) -> str:
    """One paragraph per stretch of talk, each headed by the time it starts."""
    if not segments:
        return NO_SPEECH_TEXT
    blocks = [
        _stamp(p[0].start) + " " + " ".join(seg.text for seg in p) for p in paragraphs(segments)
    ]
    return "\n\n".join(blocks) + "\n"


def to_srt(segments: list[Segment]) -> str:
    blocks = [
        f"{i}\n{_clock(seg.start, ',')} --> {_clock(seg.end, ',')}\n{seg.text}\n"
        for i, seg in enumerate(segments, 1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: list[Segment]) -> str:
    blocks = [
        f"{_clock(seg.start, '.')} --> {_clock(seg.end, '.')}\n{seg.text}\n" for seg in segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_json(segments: list[Segment], engine: str, model: str, duration: float) -> str:
    doc = {
        "engine": engine,
        "model": model,
        "duration_seconds": duration,
        "segments": [asdict(seg) for seg in segments],
    }
    return json.dumps(doc, indent=1) + "\n"


def result_name(stem: str, kind: str) -> str:
    """'interview-03.transcript.txt': results carry the recording's base name."""
    return f"{stem}.{kind}"


def write_transcript(
    segments: list[Segment],
    engine: str,
    model: str,
    duration: float,
    stem: str,
    results_dir: Path,
    work_dir: Path,
) -> None:
    as_json = to_json(segments, engine, model, duration)
    (results_dir / result_name(stem, "transcript.txt")).write_text(to_txt(segments))
    (results_dir / result_name(stem, "transcript.srt")).write_text(to_srt(segments))
    (results_dir / result_name(stem, "transcript.vtt")).write_text(to_vtt(segments))
    (results_dir / result_name(stem, "transcript.json")).write_text(as_json)
    (work_dir / TRANSCRIPT_FILE).write_text(as_json)


def read_transcript(work_dir: Path) -> tuple[list[Segment], dict[str, Any]]:
    doc = json.loads((work_dir / TRANSCRIPT_FILE).read_text())
    return [Segment.from_dict(s) for s in doc["segments"]], doc

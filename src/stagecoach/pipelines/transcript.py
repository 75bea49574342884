"""A transcript (timed segments of timed words) and the files it is written as."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRANSCRIPT_FILE = "transcript.json"  # also in work_dir, for Analyzing


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
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        words = [Word(w["text"], w["start"], w["end"]) for w in d.get("words", [])]
        return cls(d["start"], d["end"], d["text"], words)


def _clock(seconds: float, decimal: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def to_txt(segments: list[Segment]) -> str:
    return "".join(seg.text + "\n" for seg in segments)


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


def to_json(segments: list[Segment], engine: str, duration: float) -> str:
    doc = {
        "engine": engine,
        "duration_seconds": duration,
        "segments": [asdict(seg) for seg in segments],
    }
    return json.dumps(doc, indent=1) + "\n"


def write_transcript(
    segments: list[Segment], engine: str, duration: float, results_dir: Path, work_dir: Path
) -> None:
    as_json = to_json(segments, engine, duration)
    (results_dir / "transcript.txt").write_text(to_txt(segments))
    (results_dir / "transcript.srt").write_text(to_srt(segments))
    (results_dir / "transcript.vtt").write_text(to_vtt(segments))
    (results_dir / TRANSCRIPT_FILE).write_text(as_json)
    (work_dir / TRANSCRIPT_FILE).write_text(as_json)


def read_transcript(work_dir: Path) -> tuple[list[Segment], dict[str, Any]]:
    doc = json.loads((work_dir / TRANSCRIPT_FILE).read_text())
    return [Segment.from_dict(s) for s in doc["segments"]], doc

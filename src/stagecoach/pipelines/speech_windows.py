"""Long recordings are transcribed in windows of about 30 s, cut at the quietest moment.

A window is the unit of a checkpoint: once transcribed, its segments are kept, and a resumed
stage starts at the first window not done. The cuts depend only on the audio from where
they start, so a resumed run cuts the rest exactly as the first run would have. Windows
never overlap and each segment is clipped to its window: nothing is lost or said twice at
a seam. One window is read from the PCM file at a time, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stagecoach.pipelines.transcript import Segment

SAMPLE_RATE = 16000
WINDOW_SECONDS = 30.0  # Whisper's own span: one encoder pass per window
MIN_WINDOW_SECONDS = 20.0  # the cut is looked for between these two
FRAME = SAMPLE_RATE // 100  # 10 ms of energy
QUIET_FRAMES = 30  # a pause is judged over 300 ms


def pcm_samples(pcm_path: Path) -> int:
    return pcm_path.stat().st_size // 2


def read_pcm(pcm_path: Path, start: int, end: int) -> np.ndarray:
    return np.fromfile(pcm_path, dtype="<i2", count=end - start, offset=start * 2)


def next_cut(pcm_path: Path, start: int, total: int) -> int:
    """Where the window starting at sample ``start`` ends: the middle of the quietest 300 ms
    between 20 and 30 s in, or the end of the recording when that is within 30 s."""
    longest = int(WINDOW_SECONDS * SAMPLE_RATE)
    if total - start <= longest:
        return total
    lo = start + int(MIN_WINDOW_SECONDS * SAMPLE_RATE)
    region = read_pcm(pcm_path, lo, start + longest).astype(np.float64)
    frames = region[: len(region) // FRAME * FRAME].reshape(-1, FRAME)
    energy = (frames**2).mean(axis=1)
    if len(energy) <= QUIET_FRAMES:
        return start + longest
    window = np.convolve(energy, np.ones(QUIET_FRAMES), mode="valid")
    quietest = int(np.argmin(window))  # the first of equals: deterministic
    return lo + (quietest + QUIET_FRAMES // 2) * FRAME


def windows(pcm_path: Path, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) sample ranges from ``start`` to the end of the recording."""
    total = pcm_samples(pcm_path)
    while start < total:
        end = next_cut(pcm_path, start, total)
        yield start, end
        start = end


@dataclass
class TranscriptionState:
    """What a Transcribing checkpoint holds: the windows done, as segments."""

    engine: str
    model: str
    samples: int  # of the whole recording: a checkpoint of other audio is not resumed
    next_sample: int = 0
    segments: list[Segment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "model": self.model,
            "samples": self.samples,
            "next_sample": self.next_sample,
            # Compact: [start, end, text, [[word, start, end], ...]]
            "segments": [
                [s.start, s.end, s.text, [[w.text, w.start, w.end] for w in s.words]]
                for s in self.segments
            ],
        }

    @classmethod
    def resume(
        cls, saved: dict[str, Any] | None, engine: str, model: str, samples: int
    ) -> TranscriptionState:
        """The saved state when it is of this audio and engine; else a fresh start."""
        fresh = cls(engine, model, samples)
        if not saved or (saved.get("engine"), saved.get("model"), saved.get("samples")) != (
            engine,
            model,
            samples,
        ):
            return fresh
        try:
            segments = [Segment.from_row(row) for row in saved["segments"]]
            next_sample = int(saved["next_sample"])
        except (KeyError, TypeError, ValueError, IndexError):
            return fresh
        if not 0 <= next_sample <= samples:
            return fresh
        return cls(engine, model, samples, next_sample, segments)

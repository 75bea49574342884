"""Analyzing: figures about the talk itself, from the transcript's timed segments."""

from __future__ import annotations

from typing import Any

from stagecoach.pipelines.text import top_content_words, words
from stagecoach.pipelines.transcript import Segment

TOP_WORDS = 15


def analyse_transcript(segments: list[Segment], duration: float) -> dict[str, Any]:
    tokens = [w for seg in segments for w in words(seg.text)]
    # Speech time is what the engine heard as speech; overlapping segments count once.
    speech = 0.0
    covered_until = 0.0
    for seg in segments:
        start = max(seg.start, covered_until)
        if seg.end > start:
            speech += seg.end - start
            covered_until = seg.end
    speech = min(speech, duration)
    pauses = [b.start - a.end for a, b in zip(segments, segments[1:], strict=False)]
    return {
        "duration_seconds": round(duration, 2),
        "word_count": len(tokens),
        "segment_count": len(segments),
        "speech_seconds": round(speech, 2),
        "silence_seconds": round(max(duration - speech, 0.0), 2),
        "speech_ratio": round(speech / duration, 3) if duration else 0.0,
        # Speaking rate counts only time spent talking; the overall rate counts the pauses too.
        "words_per_minute": round(len(tokens) / (speech / 60), 1) if speech else 0.0,
        "words_per_minute_overall": round(len(tokens) / (duration / 60), 1) if duration else 0.0,
        "longest_pause_seconds": round(max(pauses, default=0.0), 2),
        "top_words": [{"word": w, "count": n} for w, n in top_content_words(tokens, TOP_WORDS)],
    }

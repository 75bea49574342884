"""The ``audio`` pipeline (audio and video files): Decoding -> Transcribing -> Analyzing."""

from __future__ import annotations

import json
from typing import Any

from stagecoach.pipelines.audio_analysis import analyse_transcript
from stagecoach.pipelines.audio_decode import (
    PCM_FILE,
    decode_audio,
    decoded_seconds,
    decoding_total,
)
from stagecoach.pipelines.base import ArtifactInput, Pipeline, Reporter, Stage
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.speech import engine_name, make_engine
from stagecoach.pipelines.transcript import TRANSCRIPT_FILE, read_transcript, write_transcript


def transcribe_audio(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Transcribing": transcript.txt/.srt/.vtt/.json in results_dir."""
    duration = decoded_seconds(art)
    progress = StageProgress(reporter, duration, "Transcribing...")
    engine = make_engine(art.options)
    segments = []
    for segment in engine.transcribe(art.work_dir / PCM_FILE, progress):
        segments.append(segment)
    progress.update(duration)
    write_transcript(segments, engine.name, duration, art.results_dir, art.work_dir)
    progress.finish("Transcription complete")


def analyse_audio(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Analyzing": analysis.json in results_dir."""
    segments, doc = read_transcript(art.work_dir)
    progress = StageProgress(reporter, len(segments), "Analyzing transcript...")
    analysis = analyse_transcript(segments, float(doc["duration_seconds"]))
    analysis["engine"] = doc["engine"]
    (art.results_dir / "analysis.json").write_text(json.dumps(analysis, indent=2) + "\n")
    progress.update(len(segments))
    progress.finish("Analysis complete")


def segment_count(art: ArtifactInput) -> float:
    try:
        return float(len(json.loads((art.work_dir / TRANSCRIPT_FILE).read_text())["segments"]))
    except FileNotFoundError:
        return 0.0


def audio_engine(options: dict[str, Any]) -> str:
    return engine_name(options)


AUDIO = Pipeline(
    name="audio",
    file_types=("audio", "video"),
    stages=(
        Stage("Decoding", "audio_seconds", decode_audio, decoding_total),
        Stage("Transcribing", "audio_seconds", transcribe_audio, decoded_seconds),
        Stage("Analyzing", "segments", analyse_audio, segment_count),
    ),
    complete_message="Transcription complete!",
    engine=audio_engine,
)

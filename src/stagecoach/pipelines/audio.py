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
from stagecoach.pipelines.speech_windows import (
    SAMPLE_RATE,
    TranscriptionState,
    pcm_samples,
    read_pcm,
    windows,
)
from stagecoach.pipelines.text import safe_stem
from stagecoach.pipelines.transcript import (
    TRANSCRIPT_FILE,
    read_transcript,
    result_name,
    write_transcript,
)


def transcribe_audio(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Transcribing": <name>.transcript.txt/.srt/.vtt/.json in results_dir.

    Window by window, each checkpointed; a resumed stage skips the windows it kept."""
    pcm_path = art.work_dir / PCM_FILE
    duration = decoded_seconds(art)
    progress = StageProgress(reporter, duration, "Transcribing...")
    engine = make_engine(art.options)
    state = TranscriptionState.resume(
        reporter.resumed_state(), engine.name, engine.model, pcm_samples(pcm_path)
    )
    if state.next_sample:
        progress.update(state.next_sample / SAMPLE_RATE)
        progress.flush()  # the first report counts what the checkpoint kept
    for start, end in windows(pcm_path, state.next_sample):
        pcm = read_pcm(pcm_path, start, end)
        state.segments.extend(engine.transcribe(pcm, start / SAMPLE_RATE, progress))
        state.next_sample = end
        progress.update(end / SAMPLE_RATE)
        progress.flush()
        reporter.checkpoint(state.to_dict())
    progress.update(duration)
    write_transcript(
        state.segments,
        engine.name,
        engine.model,
        duration,
        recording_stem(art),
        art.results_dir,
        art.work_dir,
    )
    progress.finish("Transcription complete" if state.segments else no_speech(art))


def analyse_audio(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Analyzing": <name>.analysis.json in results_dir."""
    segments, doc = read_transcript(art.work_dir)
    progress = StageProgress(reporter, len(segments), "Analyzing transcript...")
    analysis = analyse_transcript(segments, float(doc["duration_seconds"]))
    analysis["engine"] = doc["engine"]
    analysis["model"] = doc.get("model")
    name = result_name(recording_stem(art), "analysis.json")
    (art.results_dir / name).write_text(json.dumps(analysis, indent=2) + "\n")
    progress.update(len(segments))
    progress.finish("Analysis complete")


def recording_stem(art: ArtifactInput) -> str:
    return safe_stem(art.original_name, "recording")


def no_speech(art: ArtifactInput) -> str:
    return f"No speech found in {art.original_name}"


def audio_ending(art: ArtifactInput) -> str | None:
    """An honest last word: a recording without speech does not end "complete!"."""
    try:
        segments, _doc = read_transcript(art.work_dir)
    except (FileNotFoundError, ValueError):
        return None
    return None if segments else no_speech(art)


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
    ending=audio_ending,
)

"""The audio pipeline on flite speech (the committed fixtures), in the formats users upload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.audio import AUDIO
from stagecoach.pipelines.audio_decode import PCM_FILE, decode_audio
from tests.pipelines.conftest import RecordingReporter
from tests.pipelines.media import RATE, encode, read_wav, speech_wav
from tests.pipelines.speech_fixtures import SENTENCES, word_recall

REFERENCE = " ".join(SENTENCES)
# Measured on these sentences with pocketsphinx 5.0.4 (default en-us model): word recall was
# 0.82 for flite's slt voice as wav, ogg/opus, flac, m4a, mp4 and webm, 0.79 for mp3, and
# 0.90 for the rms voice. 0.65 leaves room for a different FFmpeg or model build while still
# failing when decoding is wrong (bad sample rate or channel mix gives near 0) or when only
# the function words come through (they are 45 % of the reference).
MIN_RECALL = 0.65

FORMATS = {
    # name: (codec, sample rate, video codec)
    "mp3": ("libmp3lame", RATE, None),
    "ogg": ("libopus", 48000, None),
    "opus": ("libopus", 48000, None),
    "flac": ("flac", RATE, None),
    "m4a": ("aac", RATE, None),
    "mp4": ("aac", RATE, "libx264"),
    "mov": ("aac", 44100, "libx264"),
    "mkv": ("flac", RATE, "mpeg4"),
    "webm": ("libopus", 48000, "libvpx"),
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(SENTENCES, tmp_path_factory.mktemp("speech") / "slt.wav", "slt")


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(SENTENCES[:1], tmp_path_factory.mktemp("speech") / "short.wav", "slt")


def encoded(wav: Path, fmt: str) -> Path:
    codec, rate, video = FORMATS[fmt]
    return encode(wav, wav.with_name(f"{wav.stem}.{fmt}"), codec, rate=rate, video=video)


def envelope(samples: np.ndarray) -> np.ndarray:
    """Loudness per 100 ms: survives lossy coding and small encoder delays."""
    window = RATE // 10
    usable = samples[: len(samples) // window * window].astype(np.float64)
    return np.sqrt((usable.reshape(-1, window) ** 2).mean(axis=1))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_decoding_gives_16khz_mono_pcm_of_the_same_sound(fmt, short_speech, make_artifact):
    art = make_artifact(encoded(short_speech, fmt))
    reporter = RecordingReporter("Decoding", AUDIO.stage("Decoding").total(art))
    assert reporter.totals[0] == pytest.approx(len(read_wav(short_speech)) / RATE, abs=0.2)

    decode_audio(art, reporter)

    reporter.assert_complete()
    original = read_wav(short_speech)
    decoded = np.fromfile(art.work_dir / PCM_FILE, dtype="<i2")
    assert len(decoded) / RATE == pytest.approx(len(original) / RATE, abs=0.15)
    a, b = envelope(original), envelope(decoded)
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["wav", "mp3", "mp4"])
def test_transcript_contains_most_spoken_words(fmt, speech, run_stages):
    path = speech if fmt == "wav" else encoded(speech, fmt)

    run = run_stages(AUDIO, path)

    for reporter in run.reporters.values():
        reporter.assert_complete()
    assert run.reporters["Transcribing"].totals[-1] == pytest.approx(
        len(read_wav(speech)) / RATE, abs=0.15
    )
    text = run.result("transcript.txt")
    assert word_recall(REFERENCE, text) >= MIN_RECALL, text
    assert {"transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json"} <= set(
        run.result_names
    )
    doc = json.loads(run.result("transcript.json"))
    assert doc["engine"] == "pocketsphinx"
    starts = [s["start"] for s in doc["segments"]]
    assert starts == sorted(starts)
    # The sentences are spoken with pauses between them: VAD finds several utterances.
    assert len(doc["segments"]) >= 3
    for seg in doc["segments"]:
        assert 0 <= seg["start"] < seg["end"] <= doc["duration_seconds"] + 0.05
        assert all(seg["start"] <= w["start"] < w["end"] <= seg["end"] for w in seg["words"])
    assert run.result("transcript.vtt").startswith("WEBVTT\n\n00:00:")
    assert " --> " in run.result("transcript.srt").splitlines()[1]

    analysis = json.loads(run.result("analysis.json"))
    assert analysis["segment_count"] == len(doc["segments"])
    assert analysis["word_count"] == len(text.split())
    assert 0 < analysis["speech_seconds"] < analysis["duration_seconds"]
    assert analysis["silence_seconds"] > 0.8 * 4  # at least the pauses between sentences
    assert 100 < analysis["words_per_minute"] < 300  # flite speaks at a brisk conversational pace
    top = [w["word"] for w in analysis["top_words"]]
    assert "the" not in top and top  # stopwords are left out


@pytest.mark.slow
def test_a_second_voice_is_recognised_too(tmp_path, run_stages):
    wav = speech_wav(SENTENCES, tmp_path / "rms.wav", "rms")
    run = run_stages(AUDIO, wav)
    assert word_recall(REFERENCE, run.result("transcript.txt")) >= MIN_RECALL


def test_silence_gives_an_empty_transcript_not_an_error(tmp_path, run_stages):
    from tests.pipelines.media import write_wav

    wav = write_wav(np.zeros(RATE * 3, dtype="<i2"), tmp_path / "silence.wav")
    run = run_stages(AUDIO, wav)
    assert run.result("transcript.txt") == ""
    analysis = json.loads(run.result("analysis.json"))
    assert analysis["word_count"] == 0 and analysis["silence_seconds"] == 3.0


def test_recording_that_stops_mid_word_is_transcribed(short_speech, tmp_path, run_stages):
    from tests.pipelines.media import write_wav

    # Cut in the middle of speech, on a whole number of 30 ms VAD frames (480 samples).
    samples = read_wav(short_speech)
    cut = write_wav(samples[: len(samples) // 2 // 480 * 480], tmp_path / "cut.wav")
    run = run_stages(AUDIO, cut)
    assert "quick" in run.result("transcript.txt")


def test_cancelling_stops_transcribing(short_speech, make_artifact):
    art = make_artifact(short_speech)
    decode_audio(art, RecordingReporter("Decoding"))
    reporter = RecordingReporter("Transcribing", 5.0, abort_after=1)
    with pytest.raises(StageError) as caught:
        AUDIO.stage("Transcribing").run(art, reporter)
    assert caught.value.error.category == ErrorCategory.CANCELLED


# --- bad input: permanent errors with a message and a hint -------------------------------


def assert_permanent_input_error(caught: pytest.ExceptionInfo[StageError], code: str) -> None:
    error = caught.value.error
    assert error.code == code
    assert error.category == ErrorCategory.INPUT
    assert error.retryable is False
    assert error.message and error.hint


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "webm"])
def test_truncated_file_is_a_permanent_error(fmt, speech, tmp_path, make_artifact):
    whole = speech if fmt == "wav" else encoded(speech, fmt)
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(StageError) as caught:
        decode_audio(make_artifact(cut), RecordingReporter())
    assert_permanent_input_error(caught, "audio_truncated")
    assert "incomplete" in caught.value.error.message


def test_mp4_cut_before_its_index_is_a_permanent_error(short_speech, tmp_path, make_artifact):
    whole = encoded(short_speech, "mp4")  # PyAV writes the index (moov) at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(StageError) as caught:
        decode_audio(make_artifact(cut), RecordingReporter())
    assert_permanent_input_error(caught, "audio_unreadable")
    assert "incomplete" in caught.value.error.message


def test_video_without_audio_is_a_permanent_error(short_speech, tmp_path, make_artifact):
    video = encode(short_speech, tmp_path / "silent.mp4", "aac", video="libx264", audio=False)
    with pytest.raises(StageError) as caught:
        decode_audio(make_artifact(video), RecordingReporter())
    assert_permanent_input_error(caught, "no_audio_stream")


@pytest.mark.parametrize("name", ["noise.mp3", "noise.wav", "noise.m4a", "noise.mp4"])
def test_random_bytes_are_a_permanent_error(name, tmp_path, make_artifact):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(5).bytes(200_000))
    with pytest.raises(StageError) as caught:
        decode_audio(make_artifact(path), RecordingReporter())
    assert_permanent_input_error(caught, "audio_unreadable")


def test_empty_file_is_a_permanent_error(tmp_path, make_artifact):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    with pytest.raises(StageError) as caught:
        decode_audio(make_artifact(path), RecordingReporter())
    assert_permanent_input_error(caught, "audio_unreadable")

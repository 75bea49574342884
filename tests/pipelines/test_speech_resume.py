"""Transcription in windows cut at pauses, checkpointed per window, resumed after a stop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.audio import AUDIO
from stagecoach.pipelines.audio_decode import PCM_FILE, decode_audio
from stagecoach.pipelines.speech_windows import (
    MIN_WINDOW_SECONDS,
    SAMPLE_RATE,
    WINDOW_SECONDS,
    TranscriptionState,
    windows,
)
from tests.pipelines.conftest import RecordingReporter
from tests.pipelines.media import RATE, speech_wav
from tests.pipelines.speech_fixtures import SENTENCES, word_error_rate

REFERENCE = " ".join(SENTENCES * 2)
PS = {"engine": "pocketsphinx"}


def test_windows_are_cut_in_the_pauses_and_cover_the_recording(tmp_path):
    rng = np.random.default_rng(7)
    # 95 s of "speech" (loud noise) with 0.5 s pauses; the one at 12 s is too early to cut.
    pcm = rng.normal(0, 3000, 95 * RATE)
    pauses = [12.0, 25.0, 50.0, 72.0]
    for p in pauses:
        pcm[int(p * RATE) : int((p + 0.5) * RATE)] = 0
    path = tmp_path / PCM_FILE
    pcm.astype("<i2").tofile(path)

    cuts = list(windows(path))

    assert cuts[0][0] == 0 and cuts[-1][1] == len(pcm)
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:], strict=False))  # no gap, no overlap
    for start, end in cuts[:-1]:
        assert MIN_WINDOW_SECONDS * RATE <= end - start <= WINDOW_SECONDS * RATE
        cut = end / RATE
        assert any(p <= cut <= p + 0.5 for p in pauses[1:]), cut  # in a pause, not a word
    assert len(cuts) == 4
    # The cuts from a later start are the same as the first run's from there on: resumable.
    assert list(windows(path, cuts[1][0])) == cuts[1:]


def test_a_checkpoint_of_other_audio_or_engine_is_not_resumed():
    kept = TranscriptionState("whisper", "m", 1000, 500).to_dict()
    assert TranscriptionState.resume(kept, "whisper", "m", 1000).next_sample == 500
    assert TranscriptionState.resume(kept, "pocketsphinx", "m", 1000).next_sample == 0
    assert TranscriptionState.resume(kept, "whisper", "m", 999).next_sample == 0
    assert TranscriptionState.resume({"junk": 1}, "whisper", "m", 1000).next_sample == 0
    assert TranscriptionState.resume(None, "whisper", "m", 1000).next_sample == 0


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):  # the committed flite fixtures
    # About 47 s: two windows.
    return speech_wav(SENTENCES * 2, tmp_path_factory.mktemp("long") / "session-7.wav", "slt")


def transcribe(art, reporter):
    AUDIO.stage("Transcribing").run(art, reporter)


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, PS], ids=["whisper", "pocketsphinx"])
def test_stopped_transcription_resumes_from_its_checkpoint_whole(
    options, long_speech, make_artifact
):
    whole_art = make_artifact(long_speech, options=options)
    decode_audio(whole_art, RecordingReporter("Decoding"))
    whole = RecordingReporter("Transcribing", AUDIO.stage("Transcribing").total(whole_art))
    transcribe(whole_art, whole)
    n_windows = len(list(windows(whole_art.work_dir / PCM_FILE)))
    assert n_windows >= 2 and len(whole.checkpoints) == n_windows  # one per window
    expected = json.loads((whole_art.results_dir / "session-7.transcript.json").read_text())

    # The same recording, stopped after its first window (a killed worker, in effect) ...
    art = make_artifact(long_speech, options=options)
    decode_audio(art, RecordingReporter("Decoding"))
    first = RecordingReporter("Transcribing", whole.totals[0], abort_after_checkpoints=1)
    with pytest.raises(StageError) as caught:
        transcribe(art, first)
    assert caught.value.error.category == ErrorCategory.CANCELLED
    kept = first.checkpoints[-1]
    kept_seconds = kept["next_sample"] / SAMPLE_RATE
    assert MIN_WINDOW_SECONDS <= kept_seconds <= WINDOW_SECONDS
    # ... the checkpoint covered what progress had reported by then.
    assert first.units[-1] >= kept_seconds

    # ... and resumed in a fresh work_dir, as another worker would.
    again = make_artifact(long_speech, options=options)
    decode_audio(again, RecordingReporter("Decoding"))
    resumed = RecordingReporter("Transcribing", whole.totals[0], resume=kept)
    transcribe(again, resumed)

    resumed.assert_complete()
    assert resumed.units[0] == pytest.approx(kept_seconds)  # carries on, not from zero
    assert len(resumed.checkpoints) == n_windows - 1  # the windows left
    doc = json.loads((again.results_dir / "session-7.transcript.json").read_text())
    text = (again.results_dir / "session-7.transcript.txt").read_text()
    if not options:
        # Whisper reads each window afresh: the resumed transcript is the uninterrupted one.
        assert doc["segments"] == expected["segments"]  # nothing lost or said twice
        assert word_error_rate(REFERENCE, text) <= 0.08, text
    else:
        # pocketsphinx adapts to the voice as it goes, so words after the seam may differ;
        # the kept window is as it was, and what follows starts after the seam.
        n = len(kept["segments"])
        assert [s["text"] for s in doc["segments"][:n]] == [s[2] for s in kept["segments"]]
        assert all(s["start"] >= kept_seconds for s in doc["segments"][n:])
        whole_text = (whole_art.results_dir / "session-7.transcript.txt").read_text()
        assert word_error_rate(REFERENCE, text) <= word_error_rate(REFERENCE, whole_text) + 0.05

"""pocketsphinx 5: voice activity detection cuts utterances, the decoder times their words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import version as _version

import numpy as np
from pocketsphinx import Decoder, Endpointer

from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.transcript import Segment, Word

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # pocketsphinx's default frame rate for word timings
# Decode about one second per read: progress and cancellation are checked per read.
FRAMES_PER_READ = 34
# Endless speech without a pause is cut here, so one utterance's search stays small.
MAX_UTTERANCE_SECONDS = 30.0
ALTERNATE_RE = re.compile(r"\(\d+\)$")  # "the(2)": second pronunciation of "the"


def _is_word(token: str) -> bool:
    return not (token.startswith(("<", "[", "+")) or token == "")


class PocketsphinxEngine:
    name = "pocketsphinx"
    model = f"en-us (pocketsphinx {_version('pocketsphinx')})"

    def __init__(self) -> None:
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def _segment(self, start: float) -> Segment | None:
        self.decoder.end_utt()
        words = [
            Word(
                ALTERNATE_RE.sub("", s.word),
                round(start + s.start_frame / FRAMES_PER_SECOND, 2),
                round(start + (s.end_frame + 1) / FRAMES_PER_SECOND, 2),
            )
            for s in self.decoder.seg()
            if _is_word(s.word)
        ]
        if not words:
            return None
        return Segment(words[0].start, words[-1].end, " ".join(w.text for w in words), words)

    def transcribe(
        self, pcm: np.ndarray, offset: float, progress: StageProgress
    ) -> Iterator[Segment]:
        # A fresh endpointer per window: windows are cut at pauses, so no utterance spans two.
        ep = Endpointer(window=0.3, ratio=0.9, sample_rate=SAMPLE_RATE)
        dec = self.decoder
        frame_bytes = ep.frame_bytes
        data = pcm.astype("<i2").tobytes()
        whole = len(data) - len(data) % frame_bytes
        tail = data[whole:]
        utt_start: float | None = None
        for i in range(0, whole, frame_bytes):
            was_in_speech = ep.in_speech
            speech = ep.process(data[i : i + frame_bytes])
            if speech is not None:
                if not was_in_speech:
                    dec.start_utt()
                    utt_start = offset + ep.speech_start
                dec.process_raw(speech, False, False)
                assert utt_start is not None
                now = offset + (i + frame_bytes) / (2 * SAMPLE_RATE)
                if not ep.in_speech or now - utt_start >= MAX_UTTERANCE_SECONDS:
                    if seg := self._segment(utt_start):
                        yield seg
                    utt_start = None
                    if ep.in_speech:  # cut a long utterance: carry on in a new one
                        dec.start_utt()
                        utt_start = now
            if (i // frame_bytes) % FRAMES_PER_READ == 0:  # about a second: report, check
                progress.update(offset + i / (2 * SAMPLE_RATE))
        if ep.in_speech and utt_start is not None:
            # end_stream() refuses an empty buffer: give it one silent sample instead.
            speech = ep.end_stream(tail or bytes(2))
            if speech:
                dec.process_raw(speech, False, False)
            if seg := self._segment(utt_start):
                yield seg

"""Media made by the tests: speech from the committed fixtures (flite's voices, made by
tests/fixtures/make_speech.py), re-encoded with PyAV into other formats."""

from __future__ import annotations

import json
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 16000
SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
MANIFEST = SPEECH_DIR / "manifest.json"


def spoken(sentence: str, voice: str = "slt") -> np.ndarray:
    """The committed recording of ``sentence`` in ``voice``, as 16 kHz mono samples."""
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for entry in entries:
        if entry["voice"] == voice and entry["text"] == sentence:
            return read_flac(SPEECH_DIR / entry["file"])
    raise LookupError(
        f"no speech fixture for {voice}: {sentence!r}; add the sentence to "
        "tests/pipelines/speech_fixtures.py and run python -m tests.fixtures.make_speech"
    )


def read_flac(path: Path) -> np.ndarray:
    """A 16 kHz mono FLAC's samples (FLAC is lossless: exactly the samples it was made of)."""
    with av.open(str(path)) as src:
        chunks = [f.to_ndarray().reshape(-1) for f in src.decode(audio=0)]
    return np.concatenate(chunks).astype("<i2")


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_wav(samples: np.ndarray, out: Path) -> Path:
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return out


def speech_wav(sentences: list[str], out: Path, voice: str = "slt", pause: float = 0.8) -> Path:
    """One wav of the sentences spoken in turn, with a pause between them."""
    gap = np.zeros(int(pause * RATE), dtype="<i2")
    parts: list[np.ndarray] = [gap]
    for sentence in sentences:
        parts += [spoken(sentence, voice), gap]
    return write_wav(np.concatenate(parts), out)


def encode(
    wav: Path,
    out: Path,
    codec: str,
    *,
    rate: int = RATE,
    video: str | None = None,
    audio: bool = True,
) -> Path:
    """Re-encode ``wav`` as ``out`` with an audio ``codec``, optionally beside a video stream."""
    samples = read_wav(wav)
    with av.open(str(out), "w") as dst:
        astream = dst.add_stream(codec, rate=rate, layout="mono") if audio else None
        vstream = None
        if video:
            vstream = dst.add_stream(video, rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 64, "yuv420p"
        if astream is not None:
            resampler = av.AudioResampler(
                format=astream.codec_context.format, layout="mono", rate=rate
            )
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
            for chunk in resampler.resample(frame) + resampler.resample(None):
                dst.mux(astream.encode(chunk))
            dst.mux(astream.encode(None))
        if vstream is not None:
            seconds = len(samples) / RATE
            for i in range(int(seconds * 10)):
                pixels = np.full((64, 64, 3), (i * 7) % 255, dtype=np.uint8)
                vframe = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                vframe.pts = i
                dst.mux(vstream.encode(vframe))
            dst.mux(vstream.encode(None))
    return out

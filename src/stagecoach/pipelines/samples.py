"""Small built-in samples, generated at run time, that calibration runs the pipelines on.

Nothing is bundled or downloaded: a few seconds of speech-like audio (voiced syllables with
a moving pitch, and pauses between words), a PDF of a few pages of text, a CSV of a few
thousand rows and a file of random bytes. Each comes with the media facts an upload of it
would have, so the stages' totals are known as they are for a real file.
"""

from __future__ import annotations

import csv
import math
import random
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

AUDIO_SECONDS = 6.0
PDF_PAGES = 4
CSV_ROWS = 3000
BYTES = 4 * 2**20
SAMPLE_RATE = 16_000

_TEXT = (
    "the team met on tuesday to review the budget for the next quarter and agreed to "
    "finish the written report before the meeting with the coach on friday morning"
)
_WORDS = _TEXT.split()


@dataclass(frozen=True)
class Sample:
    """A generated file and the facts an upload of it would carry."""

    path: Path
    file_type: str
    media: dict[str, Any] = field(default_factory=dict)


def speech_like_wav(path: Path, seconds: float = AUDIO_SECONDS, seed: int = 7) -> Path:
    """Mono 16 kHz WAV: syllables of a few harmonics under a formant-like envelope, at
    about four a second, with a gliding pitch and short pauses, plus a little noise. Not
    words, but it keeps a recogniser searching as speech does (a pure tone would not)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.6
    pauses = (np.sin(2 * np.pi * 0.45 * t + 1.0) > -0.7).astype(float)
    formant = 1.0 + 0.5 * np.sin(2 * np.pi * 900 * t) * np.sin(2 * np.pi * 3.1 * t)
    signal = voiced * syllables * pauses * formant + 0.02 * rng.standard_normal(n)
    pcm = (signal / np.max(np.abs(signal)) * 0.6 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(path: Path, pages: int = PDF_PAGES, seed: int = 7) -> Path:
    """A plain PDF of ``pages`` pages of sentences in Helvetica, written by hand (a PDF's
    structure is small: a catalog, a page tree, pages with a content stream each, a font)."""
    rng = random.Random(seed)
    objects: list[bytes] = []
    font_id = 3
    page_ids = [4 + 2 * i for i in range(pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number in range(1, pages + 1):
        lines = []
        for _ in range(40):
            words = [rng.choice(_WORDS) for _ in range(12)]
            lines.append(_pdf_escape(" ".join(words).capitalize() + "."))
        body = "BT /F1 10 Tf 12 TL 50 780 Td " + " ".join(f"({s}) '" for s in lines) + " ET"
        stream = body.encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
            f"<< /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {page_ids[number - 1] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def dataset_csv(path: Path, rows: int = CSV_ROWS, seed: int = 7) -> Path:
    """A CSV of numbers, categories and dates, with a few missing values."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "region", "day", "visits", "revenue", "score"])
        for i in range(rows):
            visits = int(rng.lognormvariate(3, 0.8))
            w.writerow(
                [
                    i + 1,
                    rng.choice(("north", "south", "east", "west")),
                    f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    visits,
                    "" if rng.random() < 0.02 else round(visits * rng.uniform(2, 9), 2),
                    round(math.sin(i / 50) * 10 + rng.gauss(0, 2), 3),
                ]
            )
    return path


def random_bytes(path: Path, size: int = BYTES, seed: int = 7) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def sample_for(pipeline: str, directory: Path) -> Sample | None:
    """The built-in sample of a built-in pipeline (None for any other pipeline)."""
    directory.mkdir(parents=True, exist_ok=True)
    if pipeline == "audio":
        path = speech_like_wav(directory / "calibration.wav")
        return Sample(path, "audio", {"duration_seconds": AUDIO_SECONDS})
    if pipeline == "document":
        return Sample(
            text_pdf(directory / "calibration.pdf"), "document", {"page_count": PDF_PAGES}
        )
    if pipeline == "dataset":
        return Sample(
            dataset_csv(directory / "calibration.csv"), "dataset", {"row_count": CSV_ROWS}
        )
    if pipeline == "checksum":
        return Sample(random_bytes(directory / "calibration.bin"), "other", {})
    return None


SAMPLE_PIPELINES = ("audio", "document", "dataset", "checksum")

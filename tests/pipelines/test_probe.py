"""Media facts read from file headers, for the upload service."""

from __future__ import annotations

import pytest
from tests.pipelines.datasets import sales_rows, write_delimited
from tests.pipelines.documents import make_pdf
from tests.pipelines.media import RATE, encode, speech_wav

from stagecoach.pipelines.probe import media_facts


def test_audio_and_video_duration(tmp_path, flite_available):
    wav = speech_wav(["Hello there."], tmp_path / "hello.wav")
    seconds = len(wav.read_bytes()[44:]) / 2 / RATE
    assert media_facts(wav, "audio", "hello.wav")["duration_seconds"] == pytest.approx(seconds)
    mp4 = encode(wav, tmp_path / "hello.mp4", "aac", video="libx264")
    assert media_facts(mp4, "video", "hello.mp4")["duration_seconds"] == pytest.approx(
        seconds, abs=0.1
    )


def test_pdf_pages_and_dataset_rows(tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf", pages=4)
    assert media_facts(pdf, "document", "a.pdf")["page_count"] == 4
    csv = write_delimited(tmp_path / "a.csv", sales_rows(25))
    assert media_facts(csv, "dataset", "a.csv")["row_count"] == 25


def test_unknown_or_unreadable_facts_are_none(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00" * 100)
    assert media_facts(junk, "audio", "junk.mp3") == {
        "duration_seconds": None,
        "page_count": None,
        "row_count": None,
    }
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    assert media_facts(txt, "document", "notes.txt")["page_count"] is None

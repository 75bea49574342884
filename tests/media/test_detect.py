"""File type by content, checked against the extension."""

from __future__ import annotations

import pytest

from stagecoach.media.detect import Rejected, detect
from tests.samples import csv_bytes, docx_bytes, pdf_bytes, wav_bytes, xlsx_bytes


@pytest.mark.parametrize(
    ("name", "data", "fmt", "file_type"),
    [
        ("a.wav", wav_bytes(0.1), "wav", "audio"),
        ("a.pdf", pdf_bytes(1), "pdf", "document"),
        ("no_extension", pdf_bytes(1), "pdf", "document"),
        ("a.docx", docx_bytes(1), "docx", "document"),
        ("a.xlsx", xlsx_bytes(1), "xlsx", "dataset"),
        ("a.csv", csv_bytes(2), "csv", "dataset"),
        ("a.tsv", b"a\tb\n1\t2\n", "tsv", "dataset"),
        ("a.json", b'[{"a": 1}]', "json", "dataset"),
        ("a.md", b"# Title\n\ntext\n", "md", "document"),
        ("a.html", b"<!doctype html><p>hi</p>", "html", "document"),
        ("page", b"<!DOCTYPE html><p>hi</p>", "html", "document"),
        ("notes", "plain text, caf\u00e9".encode(), "txt", "document"),
        ("a.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 100, "mp3", "audio"),
        ("a.flac", b"fLaC\x00\x00\x00\x22" + b"\x00" * 40, "flac", "audio"),
        ("a.opus", b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "opus", "audio"),
        ("a.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a", "audio"),
        ("a.mp4", b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4", "video"),
        ("a.mov", b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov", "video"),
        ("a.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm", "video"),
        ("a.mkv", b"\x1a\x45\xdf\xa3\xa3\x42\x82\x88matroska", "mkv", "video"),
    ],
)
def test_accepted_formats(name, data, fmt, file_type):
    found = detect(data[:8192], name, complete=len(data) <= 8192)
    assert (found.name, found.file_type) == (fmt, file_type)


def test_mp3_without_id3_needs_two_frames():
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417-byte frames.
    frame = b"\xff\xfb\x90\x00" + b"\x00" * 413
    assert detect(frame * 3, "x.mp3", complete=True).name == "mp3"
    with pytest.raises(Rejected):
        detect(b"\xff\xfb\x90\x00" + b"\x17" * 1000, "x.bin", complete=True)


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("empty.wav", b"", 422, "empty"),
        ("song.mp3", b"%PDF-1.7 ...", 415, "PDF document, not MP3 audio as the .mp3 extension"),
        ("table.csv", b"%PDF-1.7 ...", 415, "not CSV data"),
        ("clip.wav", b"\x00\x01\x02\x03" * 100, 415, "not a supported type"),
        ("binary.exe", b"MZ\x90\x00" + bytes(200), 415, "not a supported type"),
        ("a.zip", b"PK\x03\x04" + b"\x00" * 60, 415, "ZIP archive"),
        ("a.docx", b"RIFF\x00\x00\x00\x00WAVE", 415, "WAV audio, not Word document"),
        ("latin1.txt", "caf\u00e9 ".encode("latin-1") * 50, 415, "not a supported type"),
    ],
)
def test_refused(name, data, status, words):
    with pytest.raises(Rejected) as caught:
        detect(data, name, complete=True)
    assert caught.value.status == status
    assert words in caught.value.reason


def test_a_utf8_character_cut_at_the_end_of_the_head_is_still_text():
    data = ("x" * 8190 + "\u00e9").encode()
    assert detect(data[:8191], "a.txt", complete=False).name == "txt"


def test_accepted_list_is_respected():
    with pytest.raises(Rejected, match="not accepted"):
        detect(pdf_bytes(1), "a.pdf", complete=True, accepted=("wav",))

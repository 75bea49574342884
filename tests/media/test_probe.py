"""Media facts read at upload: durations from container headers, pages, rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stagecoach.media import probe as probe_module
from stagecoach.media.detect import FORMATS, Rejected, detect
from stagecoach.media.probe import probe
from tests.samples import csv_bytes, docx_bytes, encoded_media, pdf_bytes, wav_bytes, xlsx_bytes


def _facts(tmp_path: Path, name: str, data: bytes):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return probe(path, detect(data[:8192], name, complete=len(data) <= 8192))


def test_wav_duration(tmp_path):
    assert _facts(tmp_path, "a.wav", wav_bytes(3.0)).duration_seconds == 3.0


@pytest.mark.parametrize(
    ("name", "container", "codec", "video", "file_type"),
    [
        ("a.mp3", "mp3", "libmp3lame", False, "audio"),
        ("a.flac", "flac", "flac", False, "audio"),
        ("a.opus", "ogg", "libopus", False, "audio"),
        ("a.ogg", "ogg", "libopus", False, "audio"),
        ("a.m4a", "ipod", "aac", False, "audio"),
        ("a.webm", "webm", "libopus", False, "audio"),  # audio-only webm is audio
        ("v.webm", "webm", "libopus", True, "video"),
        ("a.mp4", "mp4", "aac", True, "video"),
        ("a.mov", "mov", "aac", True, "video"),
        ("a.mkv", "matroska", "aac", True, "video"),
    ],
)
def test_compressed_media_duration(tmp_path, name, container, codec, video, file_type):
    data = encoded_media(tmp_path / ("src_" + name), container, codec, 2.0, video)
    facts = _facts(tmp_path, name, data)
    assert facts.file_type == file_type
    assert facts.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_documents(tmp_path):
    assert _facts(tmp_path, "a.pdf", pdf_bytes(5)).page_count == 5
    assert _facts(tmp_path, "a.docx", docx_bytes(3)).page_count == 1
    assert _facts(tmp_path, "a.txt", b"x" * 7000).page_count == 3
    assert _facts(tmp_path, "a.md", b"# hi\n").page_count == 1


def test_dataset_rows(tmp_path):
    assert _facts(tmp_path, "a.csv", csv_bytes(250)).row_count == 250
    assert _facts(tmp_path, "b.csv", b"h1,h2\n1,2\n3,4").row_count == 2  # no final newline
    assert _facts(tmp_path, "a.tsv", b"a\tb\n1\t2\n").row_count == 1
    assert _facts(tmp_path, "a.xlsx", xlsx_bytes(40)).row_count == 40
    assert (
        _facts(tmp_path, "a.json", json.dumps([{"i": i} for i in range(17)]).encode()).row_count
        == 17
    )
    assert _facts(tmp_path, "b.json", json.dumps({"data": [1, 2, 3]}).encode()).row_count == 3
    assert _facts(tmp_path, "c.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n').row_count == 3


def test_large_datasets_are_estimated_from_their_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(probe_module, "EXACT_LINES_UP_TO", 1000)
    monkeypatch.setattr(probe_module, "EXACT_JSON_UP_TO", 1000)
    monkeypatch.setattr(probe_module, "SAMPLE_BYTES", 4000)
    data = ("id,value\n" + "".join(f"{i:05d},{i * 7 % 1000:03d}\n" for i in range(5000))).encode()
    assert _facts(tmp_path, "big.csv", data).row_count == pytest.approx(5000, rel=0.05)
    data = json.dumps([{"name": f"n{i:05d}", "v": i} for i in range(3000)]).encode()
    assert _facts(tmp_path, "big.json", data).row_count == pytest.approx(3000, rel=0.15)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("a.pdf", b"%PDF-1.4\nnothing else", "PDF"),
        ("a.wav", b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk", "WAV"),
        ("a.json", b'{"a": [1, 2', "JSON"),
        ("a.xlsx", b"PK\x03\x04xl/" + b"\x00" * 100, "Excel"),
        ("a.docx", b"PK\x03\x04word/" + b"\x00" * 100, "Word"),
    ],
)
def test_damaged_files_are_refused(tmp_path, name, data, words):
    with pytest.raises(Rejected) as caught:
        _facts(tmp_path, name, data)
    assert caught.value.status == 422 and words in caught.value.reason


def test_a_zip_named_docx_that_holds_no_document(tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    path = tmp_path / "a.docx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(Rejected) as caught:
        probe(path, FORMATS["docx"])
    assert "not a Word document" in caught.value.reason

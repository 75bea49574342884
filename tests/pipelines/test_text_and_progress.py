"""Small shared pieces: sentence splitting, summaries, safe names, progress bookkeeping."""

from __future__ import annotations

import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.summary import summarize
from stagecoach.pipelines.text import safe_stem, sentences
from stagecoach.pipelines.transcript import Segment, Word, to_srt, to_vtt
from tests.pipelines.conftest import RecordingReporter


def test_sentences_split_on_end_marks_and_paragraphs():
    text = 'He said "stop." Then it rained! Was it 3 p.m.? Yes.\n\nNew paragraph without end'
    assert sentences(text) == [
        'He said "stop."',
        "Then it rained!",
        "Was it 3 p.m.?",
        "Yes.",
        "New paragraph without end",
    ]


def test_summary_keeps_document_order():
    doc = [
        "Rivers carry water from mountains to the sea every single day.",
        "My neighbour bought a red bicycle last week.",
        "Rivers shape valleys as water cuts through rock over time.",
        "Water in rivers also feeds farms along their banks.",
    ]
    assert summarize(doc, 2) == [doc[0], doc[2]] or summarize(doc, 2) == [doc[2], doc[3]]
    assert doc[1] not in summarize(doc, 3)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Report (final).pdf", "Report_final"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\notes.txt", "notes"),
        ("....", "result"),
        (".bashrc", "bashrc"),
    ],
)
def test_safe_stem(name, stem):
    assert safe_stem(name) == stem


def test_progress_never_goes_back_and_ends_at_the_real_total():
    reporter = RecordingReporter("x", 10)
    progress = StageProgress(reporter, 10)
    for done in (1, 5, 3, 12, 15):
        progress.update(done)
    progress.finish()
    reporter.assert_complete()
    assert reporter.totals[-1] == 15
    assert reporter.units[-1] == 15


def test_progress_raises_cancelled_when_the_reporter_says_abort():
    progress = StageProgress(RecordingReporter("x", 10, abort_after=1), 10)
    with pytest.raises(StageError) as caught:
        progress.update(5)
    assert caught.value.error.category == ErrorCategory.CANCELLED


def test_subtitle_times():
    segs = [Segment(1.5, 3661.25, "hello there", [Word("hello", 1.5, 2.0)])]
    assert "00:00:01,500 --> 01:01:01,250\nhello there" in to_srt(segs)
    assert "00:00:01.500 --> 01:01:01.250\nhello there" in to_vtt(segs)

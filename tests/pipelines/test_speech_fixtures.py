"""The committed speech fixtures: every sentence the tests speak is there, in each voice, and
(when flite is installed) they are exactly what tests/fixtures/make_speech.py makes."""

from __future__ import annotations

import json

import numpy as np

from tests.fixtures import make_speech
from tests.pipelines.media import MANIFEST, RATE, SPEECH_DIR, read_flac, spoken
from tests.pipelines.speech_fixtures import MORE_SENTENCES, SENTENCES, VOICES
from tests.tools import require_tool


def test_every_sentence_is_recorded_in_every_voice():
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    recorded = {(e["voice"], e["text"]) for e in entries}
    wanted = {(v, t) for v in VOICES for t in SENTENCES + MORE_SENTENCES}
    assert recorded == wanted
    for sentence in SENTENCES:
        samples = spoken(sentence, "slt")
        # a sentence is a few seconds of sound, not silence
        assert 1.0 < len(samples) / RATE < 10.0
        assert np.abs(samples).max() > 3000


def test_the_script_makes_the_committed_fixtures(tmp_path):
    flite = require_tool("flite", install="apt-get install flite")
    made = make_speech.make(flite, tmp_path)
    assert made == json.loads(MANIFEST.read_text(encoding="utf-8"))
    for entry in made:
        fresh = read_flac(tmp_path / entry["file"])
        assert np.array_equal(fresh, read_flac(SPEECH_DIR / entry["file"])), entry["file"]

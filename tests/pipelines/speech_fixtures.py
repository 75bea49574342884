"""The fixed sentences spoken in the tests and the benchmark, and how transcripts are scored."""

from __future__ import annotations

from collections import Counter

from stagecoach.pipelines.text import words

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Our team met on Tuesday to review the budget for the next quarter.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The coach recorded the training session and wants a written transcript by tomorrow morning.",
    "We should start the meeting at nine and finish before lunch.",
]
# Spoken in the benchmark's word error rate too.
MORE_SENTENCES = [
    "Remember to send the final report to the whole team before Friday.",
    "The players warmed up for twenty minutes and then practised passing drills.",
    "She asked whether the new schedule would work for the families.",
    "Thank you all for coming, and please drive home safely tonight.",
]
# flite's voices the fixtures are recorded in (tests/fixtures/make_speech.py).
VOICES = ["slt", "rms"]


def word_recall(reference: str, hypothesis: str) -> float:
    """Share of the reference's words (with repeats) that appear in the hypothesis."""
    ref, hyp = Counter(words(reference)), Counter(words(hypothesis))
    return sum((ref & hyp).values()) / sum(ref.values())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)

"""An extractive summary: the sentences whose words the document uses most, in their order."""

from __future__ import annotations

from collections import Counter

from stagecoach.pipelines.text import content_words, words

MIN_WORDS, MAX_WORDS = 5, 60  # shorter ones are headings or fragments, longer ones run-ons
LEAD_BONUS = 1.15  # openings tend to state what a document is about
MIN_SHARE_OF_BEST = 0.3  # a short document's summary is not padded with asides


def summary_length(sentence_count: int) -> int:
    return max(3, min(10, round(sentence_count * 0.05)))


def summarize(sentences: list[str], n: int | None = None) -> list[str]:
    """The top ``n`` sentences by word-frequency score, returned in document order."""
    tokens = [content_words(words(s)) for s in sentences]
    freq = Counter(w for ts in tokens for w in ts)
    if not freq:
        return sentences[: n or 3]
    top = max(freq.values())
    n = n or summary_length(len(sentences))
    seen: set[str] = set()
    scored: list[tuple[float, int]] = []
    for i, (sentence, ts) in enumerate(zip(sentences, tokens, strict=True)):
        length = len(words(sentence))
        key = " ".join(ts)
        if not ts or not MIN_WORDS <= length <= MAX_WORDS or key in seen:
            continue
        seen.add(key)
        score = sum(freq[w] / top for w in ts) / len(ts) ** 0.5
        scored.append((score * (LEAD_BONUS if i < 3 else 1.0), i))
    best = max((score for score, _ in scored), default=0.0)
    ranked = sorted(scored, reverse=True)[:n]
    chosen = sorted(i for score, i in ranked if score >= MIN_SHARE_OF_BEST * best)
    if not chosen:  # nothing sentence-like: fall back to the opening
        return sentences[:n]
    return [sentences[i] for i in chosen]

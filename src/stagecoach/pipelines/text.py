"""Words, sentences and stopwords: the small bits of text handling that several stages share."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from stagecoach.domain.errors import StageError
from stagecoach.media.safe_zip import TooComplex

WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")
# A sentence ends at . ! ? followed by space and something that can start a sentence.
SENTENCE_END_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")

# Kept short on purpose: enough to make "most frequent words" about content, not grammar.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    let us get got one two also yes oh um uh okay ok well like really going go know think say
    said s t don didn doesn isn wasn aren won can't i'm it's that's there's we're they're you're
    i've we've i'll we'll don't
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def looks_binary(sample: bytes) -> bool:
    """True for data that is not text: NUL bytes, or many control characters."""
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return b"\x00" in sample or controls > len(sample) * 0.05


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters, inner apostrophes and hyphens)."""
    return [w.lower() for w in WORD_RE.findall(text)]


def content_words(tokens: Iterable[str]) -> list[str]:
    return [w for w in tokens if w not in STOPWORDS and len(w) > 2]


def top_content_words(tokens: Iterable[str], n: int = 10) -> list[tuple[str, int]]:
    return Counter(content_words(tokens)).most_common(n)


def sentences(text: str) -> list[str]:
    """Split running text into sentences; paragraph breaks always end one."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split())
        if block:
            out.extend(s.strip() for s in SENTENCE_END_RE.split(block) if s.strip())
    return out


def safe_stem(name: str, default: str = "result") -> str:
    """A file name stem safe to use inside results_dir, from a user-supplied display name."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem[1:] else stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80]
    return stem or default


def too_complex(exc: TooComplex) -> StageError:
    """A zip bomb, or a file past any real document's size: permanent, the input's fault."""
    return StageError(
        "file_too_complex",
        f"The file cannot be processed: {exc}.",
        hint="Split it into smaller files, or save it again from its application "
        "and upload it again.",
    )

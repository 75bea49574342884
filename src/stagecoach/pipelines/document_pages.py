"""Paged text made into prose: running headers, footers and page numbers out, pages joined.

A manual's pages each open with the same title and close with "Page 12 of 80": summarising
them as they come mixes those lines into the sentences. A line near the top or the bottom
of a page is a running line when it is short and, with its digits masked, recurs in the
same zone on at least half of the pages (three at the least); a line that is only a page
number (12, - 12 -, Page 12, 12 / 80, xii) goes wherever it is in a zone. Pages are then joined
so a sentence may go on over a page break; a word hyphenated at a line's end is mended,
and a short heading line stands as its own paragraph.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

ZONE_LINES = 3  # lines at the top and at the bottom of a page where running lines live
MIN_PAGES = 3
MIN_SHARE = 0.5
RUNNING_MAX_WORDS = 15  # headers and footers are short; a body line is longer
PAGE_NUMBER_RE = re.compile(  # on masked lines (digits are #), lower-cased
    r"^(?:page\s*)?[-–—(\[]?\s*#+\s*[-–—)\]]?(?:\s*(?:of|/|von|de)\s*#+)?$"
)
ROMAN_PAGE_RE = re.compile(r"^[ivxlc]{1,6}$")  # front matter: lower case only
HEADING_MAX_WORDS = 10
SENTENCE_END = (".", "!", "?", ":", ";", ",", "…", '"', "”", ")")


@dataclass(frozen=True)
class CleanPages:
    pages: list[str]
    removed_lines: int  # running headers, footers and page numbers taken out


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _zones(lines: list[str]) -> list[int]:
    n = len(lines)
    top = range(min(ZONE_LINES, n))
    bottom = range(max(n - ZONE_LINES, len(top)), n)
    return [*top, *bottom]


def strip_running_lines(pages: list[str]) -> CleanPages:
    split = [[ln.strip() for ln in p.splitlines() if ln.strip()] for p in pages]
    top: Counter[str] = Counter()
    bottom: Counter[str] = Counter()
    for lines in split:
        top.update({_key(ln) for ln in lines[:ZONE_LINES]})
        bottom.update({_key(ln) for ln in lines[-ZONE_LINES:]})
    need = max(MIN_PAGES, math.ceil(MIN_SHARE * len(pages)))
    running = {
        k
        for k in top.keys() | bottom.keys()
        if (top[k] >= need or bottom[k] >= need) and 0 < len(k.split()) <= RUNNING_MAX_WORDS
    }
    out, removed = [], 0
    for lines in split:
        keys = {i: _key(lines[i]) for i in _zones(lines)}
        drop = {
            i
            for i, k in keys.items()
            if k in running or PAGE_NUMBER_RE.match(k) or ROMAN_PAGE_RE.match(lines[i])
        }
        removed += len(drop)
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop))
    return CleanPages(out, removed)


def _is_heading(line: str, before: str, after: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= HEADING_MAX_WORDS
        and not line.endswith(SENTENCE_END)
        and (not before or before.endswith((".", "!", "?", ":")))
        and after[:1].isupper()
    )


def pages_prose(pages: list[str]) -> str:
    """The pages as running prose: hyphenated words mended, headings as their own paragraph."""
    lines = [ln.strip() for ln in "\n".join(pages).splitlines()]
    paragraphs: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        if not line:
            paragraphs.append([])
            continue
        before = lines[i - 1] if i else ""
        after = lines[i + 1] if i + 1 < len(lines) else ""
        if _is_heading(line, before, after):
            paragraphs += [[line], []]
            continue
        current = paragraphs[-1]
        if current and re.search(r"[A-Za-z]-$", current[-1]) and line[:1].islower():
            current[-1] = current[-1][:-1] + line  # a word hyphenated at the line's end
        else:
            current.append(line)
    return "\n\n".join(" ".join(p) for p in paragraphs if p)

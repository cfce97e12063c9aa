"""Locate evidence in the transcript: every stored quote is the transcript's own text.

A model's quote is matched against the window's transcript text, exactly first, then
tolerantly (rapidfuzz alignment, for small differences in punctuation or wording). Where a
quote cannot be found, the claim text itself may be matched against single segments (small
models often restate the sentence they were shown but garble the quote). The stored quote
is always cut from the transcript, and its times come from the segments it spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

_WORD = re.compile(r"[a-z0-9']+")


@dataclass
class Span:
    segment_ids: list[int]
    quote: str
    t0: float
    t1: float
    match: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_ids[0],
            "segment_ids": self.segment_ids,
            "quote": self.quote,
            "t0": round(self.t0, 3),
            "t1": round(self.t1, 3),
            "match": self.match,
            "score": round(self.score, 1),
        }


class Text:
    """A window's segments joined by spaces, lower-cased, with a map back to segments."""

    def __init__(self, segments: list[dict[str, Any]]):
        self.segments = segments
        parts, owners, pos = [], [], 0
        self.starts: list[int] = []
        for seg in segments:
            text = seg["text"].strip()
            self.starts.append(pos)
            parts.append(text)
            owners.extend([len(self.starts) - 1] * (len(text) + 1))
            pos += len(text) + 1
        self.raw = " ".join(parts)
        self.lower = self.raw.lower()
        self.owners = owners

    def span(self, begin: int, end: int, match: str, score: float) -> Span | None:
        # Widen to whole words so a quote never starts or ends mid-word.
        while begin > 0 and self.raw[begin - 1].isalnum():
            begin -= 1
        while end < len(self.raw) and self.raw[end].isalnum():
            end += 1
        quote = self.raw[begin:end].strip(" ,;")
        if not quote:
            return None
        first, last = self.owners[begin], self.owners[max(begin, end - 1)]
        segs = self.segments[first : last + 1]
        return Span([s["id"] for s in segs], quote, segs[0]["start"], segs[-1]["end"], match, score)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def locate_quote(quote: str, text: Text, threshold: float = 90.0, min_words: int = 3) -> Span | None:
    needle = " ".join(quote.split()).lower().strip(" .,;:\"'")
    if len(_words(needle)) < min_words:
        return None
    at = text.lower.find(needle)
    if at >= 0:
        return text.span(at, at + len(needle), "exact", 100.0)
    if len(needle) > len(text.lower):
        return None  # a quote longer than the whole window is not a quote of it
    aligned = fuzz.partial_ratio_alignment(needle, text.lower)
    if aligned is None or aligned.score < threshold:
        return None
    return text.span(aligned.dest_start, aligned.dest_end, "fuzzy", aligned.score)


def locate_by_statement(statement: str, text: Text, threshold: float = 85.0, min_shared: int = 3) -> Span | None:
    """The one segment that best restates `statement`, if it shares enough of its words."""
    words = set(_words(statement))
    best: tuple[float, int] | None = None
    for index, seg in enumerate(text.segments):
        if len(words & set(_words(seg["text"]))) < min_shared:
            continue
        score = fuzz.token_set_ratio(statement.lower(), seg["text"].lower())
        if score >= threshold and (best is None or score > best[0]):
            best = (score, index)
    if best is None:
        return None
    start = text.starts[best[1]]
    return text.span(start, start + len(text.segments[best[1]]["text"].strip()), "statement", best[0])


def ground(
    quotes: list[str],
    statement: str | None,
    text: Text,
    quote_threshold: float = 90.0,
    statement_threshold: float = 85.0,
) -> list[Span]:
    """Spans for the model's quotes; if none is found, the statement's own best segment."""
    spans: list[Span] = []
    for quote in quotes:
        span = locate_quote(quote, text, quote_threshold)
        if span and all(span.quote != s.quote for s in spans):
            spans.append(span)
    if not spans and statement:
        span = locate_by_statement(statement, text, statement_threshold)
        if span:
            spans.append(span)
    return spans

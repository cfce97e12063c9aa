"""Token windows over a transcript that end on segment boundaries and carry segment ids.

Tokens are counted offline with the BPE tokenizer that ships beside the bundled Whisper
model, so window sizes mean the same on every machine and need no network.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.core.models import bundled_whisper_path


@functools.cache
def _tokenizer():  # noqa: ANN202 - tokenizers.Tokenizer
    from tokenizers import Tokenizer  # the tokenizer library: only where tokens are counted

    return Tokenizer.from_file(str(Path(bundled_whisper_path()) / "tokenizer.json"))


def count_tokens(texts: list[str]) -> list[int]:
    if not texts:
        return []
    return [len(enc.ids) for enc in _tokenizer().encode_batch(texts, add_special_tokens=False)]


@dataclass
class Window:
    index: int
    segments: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0

    @property
    def segment_ids(self) -> list[int]:
        return [s["id"] for s in self.segments]

    def numbered_text(self) -> str:
        return "\n".join(f"[{s['id']}] {s['text'].strip()}" for s in self.segments)


def windows(
    segments: list[dict[str, Any]],
    chunk_tokens: int = 750,
    min_tokens: int = 300,
    max_tokens: int = 1000,
    overlap_tokens: int = 100,
) -> list[Window]:
    """Cut segments into windows of about `chunk_tokens` (never past `max_tokens` unless a
    single segment is longer), each starting with about `overlap_tokens` of the previous
    window's tail so a claim split across the cut is seen whole once."""
    if not segments:
        return []
    sizes = count_tokens([s["text"] for s in segments])
    result: list[Window] = []
    start = 0
    while start < len(segments):
        end, total = start, 0
        while end < len(segments):
            size = sizes[end]
            over_target = total + size > chunk_tokens and total >= min_tokens
            if end > start and (over_target or total + size > max_tokens):
                break
            total += size
            end += 1
        result.append(Window(len(result), segments[start:end], total))
        if end >= len(segments):
            break
        # Step back over whole segments until the overlap is covered, but always advance.
        next_start, carried = end, 0
        while next_start - 1 > start and carried + sizes[next_start - 1] <= overlap_tokens:
            next_start -= 1
            carried += sizes[next_start]
        start = next_start
    return result

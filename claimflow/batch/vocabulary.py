"""The batch's own words: terms Whisper should hear (faster-whisper `hotwords`) and the miner
should know as jargon; and, from a finished batch, its mined jargon ranked, to seed the next.

Why `hotwords` and not `initial_prompt` (measured with the bundled tiny.en on espeak-ng speech,
benchmarks/README.md): both lift a short clip's term recall from 0/8 to 6/8, but
`initial_prompt` conditions only the start of the audio. Whisper carries at most 223 tokens of
earlier text as its prompt, so after a minute or two the initial prompt has scrolled out: in a
199 s clip whose terms come at the end, `initial_prompt` recalled 0 of 6, `hotwords` 4 of 6.
faster-whisper puts hotwords into every window's prompt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

# faster-whisper keeps at most half its 448-token context for hotwords; a longer list is cut.
HOTWORD_TOKENS = 223


class VocabularyError(ValueError):
    """A vocabulary setting that cannot be read; the message names the key and the fix."""


def read_terms(spec: str | list[str] | None, key: str = "vocabulary", cwd: Path | None = None) -> tuple[str, ...]:
    """A list of terms, or the path of a file with one term per line (`#` comments)."""
    if not spec:
        return ()
    if isinstance(spec, list):
        return unique(str(term) for term in spec)
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise VocabularyError(
            f"{key}: the vocabulary file {spec!r} cannot be read ({error.strerror or error}; looked at {path}). "
            f"Write one term per line in it, or set {key} to a list of terms."
        ) from None
    return unique(line.split(" #", 1)[0] for line in text.splitlines() if not line.lstrip().startswith("#"))


def unique(terms: Iterable[str]) -> tuple[str, ...]:
    """Terms stripped, blanks dropped, the first of each spelling kept (case-insensitively)."""
    seen: dict[str, str] = {}
    for term in terms:
        cleaned = " ".join(term.split())
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return tuple(seen.values())


def for_video(batch_terms: tuple[str, ...], collection_terms: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """The vocabulary: the batch's terms, then each collection's (in their order)."""
    return unique([*batch_terms, *(t for terms in collection_terms for t in terms)])


def hotwords(terms: tuple[str, ...]) -> str | None:
    return ", ".join(terms) if terms else None


def miner_note(terms: Iterable[str]) -> str | None:
    terms = list(terms)
    if not terms:
        return None
    return ("Known jargon of this batch (names and terms its speakers use; spell them like this when they "
            "occur): " + ", ".join(terms) + ".")  # fmt: skip


def ranked_jargon(database: str | Path, min_videos: int = 1, limit: int | None = None) -> list[tuple[str, int]]:
    """The batch's mined jargon terms by how many videos use them (most first), one spelling
    each (the most frequent)."""
    if not Path(database).is_file():
        raise VocabularyError(f"no database at {database}: nothing is stored yet (run the workflow first)")
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            """SELECT term, COUNT(DISTINCT vid) AS videos FROM jargon WHERE TRIM(COALESCE(term, '')) != ''
               GROUP BY LOWER(TRIM(term)) HAVING videos >= ? ORDER BY videos DESC, LOWER(term)""",
            (min_videos,),
        ).fetchall()
    finally:
        conn.close()
    ranked = [(" ".join(term.split()), videos) for term, videos in rows]
    return ranked[:limit] if limit else ranked


def as_file(ranked: list[tuple[str, int]], source: str) -> str:
    """The vocabulary file format (one term per line; what follows ` #` is a comment)."""
    lines = [f"# claimflow vocabulary: jargon mined from {source}, by how many videos use it", ""]
    lines += [f"{term}  # {videos} video{'s' if videos != 1 else ''}" for term, videos in ranked]
    return "\n".join(lines) + "\n"

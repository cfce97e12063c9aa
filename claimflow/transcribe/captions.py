"""Captions as a transcript: reading tracks as sites serve them, and writing SRT, WebVTT and text.

Reading. A caption track is WebVTT or SRT (the download keeps what it fetched as WebVTT:
claimflow/download/captions.py), parsed with webvtt-py. Tracks as YouTube serves them roll: each cue shows
the line before it again above the new one ("okay welcome to this session" / "okay welcome to
this session" + "called the kinetic bunny"), with 10 ms cues in between that repeat a line
alone, and the new words carry inline timing and styling tags (`<00:00:01.310><c> welcome</c>`).
Read cue by cue, the text would say every line two or three times, and so would the claims and
quotes mined from it. A cue's lines that repeat the end of the cue before it are dropped, so
each word is read once (a cue whose first line continues the previous last line contributes
only the new words); tags are removed, HTML entities decoded, and the inline word times are kept
as per-word times when every new line has them.

Writing: one segment at a time to .srt, .vtt and .txt handles, as segments are decoded.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from claimflow.download.captions import CaptionsUnreadable, sniff

_TAG = re.compile(r"<[^>]*>")
_TIME_TAG = re.compile(r"<((?:\d+:)?\d{2}:\d{2}\.\d{3})>")
# A speaker change as YouTube's human captions mark it (">> "), and a cue that is only a sound
# annotation ("[Music]", "(applause)", "♪ ♪"): neither is something anybody said.
_SPEAKER_MARK = re.compile(r"^\s*(?:>>|&gt;&gt;)\s*")
_ANNOTATION_ONLY = re.compile(r"^(?:\s*(?:\[[^\]]*\]|\([^)]*\)|♪+))+\s*$")


@dataclass(frozen=True)
class CaptionWord:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class CaptionSegment:
    start: float
    end: float
    text: str
    words: tuple[CaptionWord, ...] = ()


@dataclass(frozen=True)
class CaptionTrack:
    format: str  # "vtt" or "srt": what the file is
    cues: int  # cues in the file
    rolled: int  # cues that repeated lines of the cue before (rolling captions); 0 for plain tracks
    segments: tuple[CaptionSegment, ...]


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float
    raw_lines: tuple[str, ...]


def seconds(stamp: str) -> float:
    """'01:02:03.500' (or ',500', or '02:03.500') -> seconds."""
    parts = [float(p) for p in stamp.replace(",", ".").split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def clean(line: str) -> str:
    """A cue line as words: tags removed, entities decoded, speaker marks and spaces collapsed."""
    text = html.unescape(_TAG.sub("", _SPEAKER_MARK.sub("", line)))
    return " ".join(text.replace("\u00a0", " ").split())


def _timed_words(raw: str, start: float, end: float) -> list[CaptionWord] | None:
    """Per-word times from a line's inline `<hh:mm:ss.mmm>` tags (None when it has none): the
    words before the first tag start with the cue; each tag times the words after it."""
    pieces = _TIME_TAG.split(_SPEAKER_MARK.sub("", raw))
    if len(pieces) == 1:
        return None
    timed: list[tuple[float, str]] = []
    at = start
    for index, piece in enumerate(pieces):
        if index % 2:
            at = seconds(piece)
            continue
        timed += [(at, word) for word in html.unescape(_TAG.sub("", piece)).split()]
    return [CaptionWord(round(t, 3), round(timed[i + 1][0] if i + 1 < len(timed) else end, 3), w)
            for i, (t, w) in enumerate(timed)]  # fmt: skip


def _parse(text: str, kind: str) -> list[_Cue]:
    import webvtt  # read only where captions are (every transcription job imports this module)
    from webvtt.errors import MalformedFileError  # (as above)

    try:
        track = webvtt.WebVTT.from_buffer(io.StringIO(text), format=kind)
    except (MalformedFileError, ValueError) as error:
        raise CaptionsUnreadable(f"not a {kind.upper()} file ({error})") from None
    return [_Cue(seconds(c.start), seconds(c.end), tuple(c.lines)) for c in track.captions]


def _overlap(lines: list[str], shown: list[str]) -> int:
    """How many of `lines`' first lines repeat the last lines of `shown` (the cue before)."""
    for size in range(min(len(lines), len(shown)), 0, -1):
        if lines[:size] == shown[-size:]:
            return size
    return 0


def collapse(cues: list[_Cue]) -> tuple[list[CaptionSegment], int]:
    """Each cue's new text once: the segments, and how many cues repeated lines of the one
    before them (rolling captions)."""
    segments: list[CaptionSegment] = []
    shown: list[str] = []  # the lines of the cue before, as read
    rolled = 0
    for cue in cues:
        pairs = [(clean(raw), raw) for raw in cue.raw_lines]
        pairs = [(text, raw) for text, raw in pairs if text]
        lines = [text for text, _ in pairs]
        repeated = _overlap(lines, shown)
        new = pairs[repeated:]
        if repeated == 0 and new and shown:
            # The cue's first line continues the last one shown (captions that grow word by word).
            before, first = shown[-1].split(), new[0][0].split()
            if len(first) > len(before) and first[: len(before)] == before:
                new[0] = (" ".join(first[len(before) :]), new[0][1])
                repeated = 1
        rolled += repeated > 0
        if lines:
            shown = lines
        text = " ".join(t for t, _ in new)
        if not text or _ANNOTATION_ONLY.match(text):
            continue
        words: list[CaptionWord] = []
        for line_text, raw in new:
            timed = _timed_words(raw, cue.start, cue.end)
            if timed is None:
                words = []
                break
            words += timed[len(timed) - len(line_text.split()) :]  # the new words of a continued line
        segments.append(CaptionSegment(round(cue.start, 3), round(cue.end, 3), text, tuple(words)))
    return segments, rolled


def read_track(path: str | Path) -> CaptionTrack:
    """A WebVTT or SRT file as segments with each spoken word once."""
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    kind = sniff(text)
    cues = _parse(text, kind)
    segments, rolled = collapse(cues)
    return CaptionTrack(kind, len(cues), rolled, tuple(segments))


def timestamp(seconds: float, separator: str) -> str:
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


class CaptionWriter:
    """Writes each segment to .srt, .vtt and .txt handles as it arrives (no buffering of the
    whole transcript)."""

    def __init__(self, srt: TextIO, vtt: TextIO, txt: TextIO):
        self.srt, self.vtt, self.txt = srt, vtt, txt
        self.count = 0
        vtt.write("WEBVTT\n\n")

    def add(self, segment: dict[str, Any]) -> None:
        text = " ".join(segment["text"].split())
        if not text:
            return
        self.count += 1
        start, end = segment["start"], max(segment["end"], segment["start"] + 0.001)
        self.srt.write(f"{self.count}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n\n")
        self.vtt.write(f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n\n")
        self.txt.write(text + "\n")

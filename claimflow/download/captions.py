"""Captions as fetched (by the captions pass, or with the audio), kept as WebVTT whatever format
the site served. WebVTT is kept as it is, SRT converted with webvtt-py, TTML/DFXP with yt-dlp's
own converter (`dfxp2srt`) and then webvtt-py, and YouTube's json3 (the cleanest form of its
automatic captions: one event per line, each word a segment with its offset, no rolling
repeats) as one cue per line with the words' times as WebVTT timestamp tags; the manifest
records the format it came in. Reading a track as a transcript (rolling cues and all) is the
transcription's: claimflow/transcribe/captions.py."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

# The formats a captions file may be fetched in, and what each is read as.
READABLE = ("vtt", "srt")
CONVERTIBLE = ("ttml", "dfxp", "xml")  # TTML family: yt_dlp.utils.dfxp2srt


class CaptionsUnreadable(ValueError):
    """A captions file that is neither WebVTT nor SRT."""


def sniff(text: str) -> str:
    """'vtt' or 'srt', from the file's own first line (a captions file's name may say either)."""
    return "vtt" if text.lstrip("\ufeff \r\n\t").startswith("WEBVTT") else "srt"


def as_webvtt(path: str | Path, ext: str) -> tuple[str, str]:
    """A fetched captions file as WebVTT text, and the format it was served in ('vtt', 'srt',
    'ttml', 'json3'). Raises CaptionsUnreadable for anything else (srv3, ...)."""
    ext = ext.lower()
    if ext == "json3":
        return json3_to_webvtt(Path(path).read_text(encoding="utf-8-sig", errors="replace")), "json3"
    if ext in CONVERTIBLE:
        from yt_dlp.utils import dfxp2srt  # yt-dlp is heavy: only for a TTML track

        try:
            srt = dfxp2srt(Path(path).read_bytes())
        except Exception as error:  # yt-dlp raises ValueError or XML errors for a broken file
            raise CaptionsUnreadable(f"not a TTML file ({type(error).__name__})") from None
        return _to_webvtt(srt, "srt"), "ttml"
    if ext not in READABLE:
        raise CaptionsUnreadable(f"captions in {ext!r} cannot be read (WebVTT, SRT and TTML can)")
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    kind = sniff(text)
    return (text if kind == "vtt" else _to_webvtt(text, "srt")), kind


def _to_webvtt(text: str, kind: str) -> str:
    import webvtt  # only where a track is converted
    from webvtt.errors import MalformedFileError  # (as above)

    try:
        return webvtt.WebVTT.from_buffer(io.StringIO(text), format=kind).content
    except (MalformedFileError, ValueError) as error:
        raise CaptionsUnreadable(f"not a {kind.upper()} file ({error})") from None


_ANNOTATION = re.compile(r"\[[^\]]*\]")


def _stamp(ms: float) -> str:
    ms = max(0, int(round(ms)))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _ms(value: object) -> float | None:
    """A json3 time: a number, or a number as a string (both are served)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def json3_to_webvtt(text: str) -> str:
    """YouTube's json3 track as WebVTT: one cue per event that has words (window and style
    events have none; an appended line break is no words), each word after the first led by
    its time (`<00:00:01.200>`), a cue ending where the next begins (json3 events overlap while
    two lines are on screen). Raises CaptionsUnreadable for a file that is not json3."""
    try:
        events = json.loads(text)["events"]
        assert isinstance(events, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise CaptionsUnreadable("not a json3 file (no events)") from None
    lines: list[tuple[float, float | None, str]] = []
    for event in events:
        start = _ms(event.get("tStartMs")) if isinstance(event, dict) else None
        segs = event.get("segs") if isinstance(event, dict) else None
        if start is None or not isinstance(segs, list):
            continue
        pieces = []
        for seg in segs:
            word = " ".join(str(seg.get("utf8", "")).split()) if isinstance(seg, dict) else ""
            if not word or _ANNOTATION.fullmatch(word):  # a line break, or "[Music]" between words
                continue
            offset = _ms(seg.get("tOffsetMs")) or 0.0
            pieces.append(word if not pieces else f"<{_stamp(start + offset)}>{word}")
        if pieces:
            duration = _ms(event.get("dDurationMs"))
            lines.append((start, start + duration if duration else None, " ".join(pieces)))
    cues = ["WEBVTT", ""]
    for index, (start, end, words) in enumerate(lines):
        following = lines[index + 1][0] if index + 1 < len(lines) else None
        stop = min(x for x in (end, following) if x is not None) if (end or following) else start + 2000
        cues += [f"{_stamp(start)} --> {_stamp(max(stop, start + 1))}", words, ""]
    return "\n".join(cues)

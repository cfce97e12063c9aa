"""Captions as fetched: the human-made subtitles yt-dlp downloaded with the audio, kept as
WebVTT whatever format the site served. WebVTT is kept as it is, SRT converted with webvtt-py,
TTML/DFXP with yt-dlp's own converter (`dfxp2srt`) and then webvtt-py; the manifest records
the format it came in. Reading a track as a transcript (rolling cues and all) is the
transcription's: claimflow/transcribe/captions.py."""

from __future__ import annotations

import io
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
    'ttml'). Raises CaptionsUnreadable for anything else (json3, srv3, ...)."""
    ext = ext.lower()
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

"""Caption writers: SRT, WebVTT and plain text from transcript segments, one at a time."""

from __future__ import annotations

from typing import Any, TextIO


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

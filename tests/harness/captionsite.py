"""A video site on loopback for the captions pass (served by tests/harness/faultserver.py, read
by the yt-dlp extractor in tests/harness/ytdlp_plugins): per video an info page with its audio
and its caption tracks, human (`subtitles`) and automatic (`automatic_captions`), in the formats
and shapes YouTube serves them.

    site/watch/<id>          the video's address (what the batch lists)
    site/api/<id>.json       its info page
    site/media/<id>.ogg      its audio: the only media requests
    site/subs/<id>.<kind>.<lang>.<ext>

Automatic tracks as YouTube's speech recognition writes them: lower case, no punctuation, each
word a json3 segment with its offset, events that overlap while two lines are on screen, window
events and appended line breaks without words, and in WebVTT the rolling repeats and word tags.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

PLUGINS = Path(__file__).parent / "ytdlp_plugins"
WORDS_PER_SECOND = 2.4  # espeak-ng at 150 words a minute, about what the demo clips say


@dataclass
class SiteVideo:
    vid: str
    audio: Path
    channel: str = "loopchannel"
    human: str | None = None  # the text of a human track (WebVTT), if any
    automatic: str | None = None  # the text of an automatic track (json3 and WebVTT), if any
    members_only: bool = False
    duration: float = 30.0
    extra: dict = field(default_factory=dict)


def asr_words(text: str) -> list[str]:
    """Text as speech recognition writes it: lower case, no punctuation."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def _stamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def human_vtt(text: str, start: float = 0.5) -> str:
    """A human track: sentences as cues, punctuated."""
    cues, at = ["WEBVTT", ""], start
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        length = max(1.0, len(sentence.split()) / WORDS_PER_SECOND)
        cues += [f"{_stamp(at)} --> {_stamp(at + length)}", sentence, ""]
        at += length
    return "\n".join(cues)


def _lines(words: list[str], per_line: int = 7) -> list[list[str]]:
    return [words[i : i + per_line] for i in range(0, len(words), per_line)]


def automatic_json3(text: str, start: float = 0.3) -> str:
    """An automatic track in json3, as YouTube serves it."""
    events: list[dict] = [{"tStartMs": 0, "dDurationMs": 999999, "id": 1, "wpWinPosId": 1, "wsWinStyleId": 1}]
    at = start
    for index, line in enumerate(_lines(asr_words(text))):
        begin = int(at * 1000)
        segs = [{"utf8": line[0], "acAsrConf": 0}]
        segs += [{"utf8": f" {word}", "tOffsetMs": int(i * 1000 / WORDS_PER_SECOND), "acAsrConf": 0}
                 for i, word in enumerate(line) if i]  # fmt: skip
        length = int(len(line) * 1000 / WORDS_PER_SECOND)
        # Shown until the line after next begins (two lines on screen), as YouTube's events overlap.
        events.append({"tStartMs": begin, "dDurationMs": 2 * length, "wWinId": 1, "segs": segs})
        events.append({"tStartMs": str(begin + length - 10), "dDurationMs": str(length), "wWinId": 1, "aAppend": 1,
                       "segs": [{"utf8": "\n"}]})  # fmt: skip
        if index == 1:
            events.append({"tStartMs": begin + length, "dDurationMs": 400, "wWinId": 1, "segs": [{"utf8": "[Music]"}]})
        at += len(line) / WORDS_PER_SECOND
    return json.dumps({"wireMagic": "pb3", "pens": [{}], "wsWinStyles": [{}, {"mhModeHint": 2, "juJustifCode": 0}],
                       "wpWinPositions": [{}, {"apPoint": 6, "ahHorPos": 20, "avVerPos": 100}], "events": events},
                      indent=2)  # fmt: skip


def automatic_vtt(text: str, start: float = 0.3) -> str:
    """The same automatic track in WebVTT as YouTube serves it: each cue shows the line before
    again, the new words tagged with their times, 10 ms cues between that repeat a line alone."""
    out = ["WEBVTT", "Kind: captions", "Language: en", ""]
    at, previous = start, ""
    for line in _lines(asr_words(text)):
        length = len(line) / WORDS_PER_SECOND
        timed = line[0] + "".join(f"<{_stamp(at + i / WORDS_PER_SECOND)}><c> {w}</c>" for i, w in enumerate(line) if i)
        out += [f"{_stamp(at)} --> {_stamp(at + length)} align:start position:0%", previous or " ", timed, ""]
        previous = " ".join(line)
        out += [f"{_stamp(at + length)} --> {_stamp(at + length + 0.01)} align:start position:0%", previous, " ", ""]
        at += length + 0.01
    return "\n".join(out)


def build(root: Path, videos: list[SiteVideo]) -> Path:
    """Write the site under `root/site`; returns that folder."""
    site = root / "site"
    for folder in ("api", "media", "subs", "watch"):
        (site / folder).mkdir(parents=True, exist_ok=True)
    for video in videos:
        shutil.copyfile(video.audio, site / "media" / f"{video.vid}.ogg")
        page = {"title": f"Loop video {video.vid}", "channel": video.channel, "duration": video.duration,
                "upload_date": "20260102", "audio": f"media/{video.vid}.ogg", "members_only": video.members_only,
                "subtitles": {}, "automatic_captions": {}, **video.extra}  # fmt: skip
        if video.human:
            name = f"subs/{video.vid}.human.en.vtt"
            (site / name).write_text(human_vtt(video.human))
            page["subtitles"]["en"] = [{"ext": "vtt", "path": name, "name": "English"}]
        if video.automatic:
            formats = []
            for ext, body in (("json3", automatic_json3(video.automatic)), ("vtt", automatic_vtt(video.automatic))):
                name = f"subs/{video.vid}.automatic.en.{ext}"
                (site / name).write_text(body)
                formats.append({"ext": ext, "path": name, "name": "English (auto-generated)"})
            page["automatic_captions"]["en"] = formats
        (site / "api" / f"{video.vid}.json").write_text(json.dumps(page))
    return site


def media_requests(server, vid: str | None = None) -> list:  # noqa: ANN001 - a FaultServer
    """The requests for audio (of `vid`, or of any video) the server saw."""
    prefix = "/site/media/" + (f"{vid}." if vid else "")
    return [r for r in server.requests if r.path.startswith(prefix) and r.method == "GET"]

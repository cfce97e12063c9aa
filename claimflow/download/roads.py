"""Two roads to a transcript: which one a video takes, from what the captions pass found.

    captions  the video's human captions (or automatic ones, with captions.automatic: always)
              make its transcript: no account's turn, no audio.
    audio     an account downloads the audio (and any human captions with it) and Whisper
              transcribes it, as before the captions pass.

Decided by the download job from the pass's record and the settings when it runs, and written
into download.json (`road`), which the transcript, summary.tsv, the database, `claimflow
status` and the report read. The names a transcript's `source` carries for each road are here
too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claimflow.core.settings import CaptionsPass

CAPTIONS, AUDIO = "captions", "audio"
HUMAN, AUTOMATIC = "human", "automatic"


@dataclass(frozen=True)
class Road:
    name: str  # CAPTIONS or AUDIO
    reason: str  # why, in words (download.json and the job's log)
    track: dict[str, Any] | None = None  # the captions pass's track for the captions road
    gate_sample: str | None = None  # the channel whose automatic captions this video measures


def channel_of(found: dict[str, Any]) -> str:
    """The gate's unit: the video's channel (by id where the site gives one), else its site."""
    info = found.get("info") or {}
    return str(info.get("channel_id") or info.get("channel") or info.get("extractor_key") or "unknown")


def choose(found: dict[str, Any] | None, settings: CaptionsPass, prefer_captions: bool,
           gate_verdict: Callable[[str], str] | None = None) -> Road:  # fmt: skip
    """The road of a video whose captions pass recorded `found` (None: a video downloaded
    before the captions pass existed, or a record that cannot be read). `gate_verdict(channel)`
    asks the gate (claimflow/download/gate.py) with `captions.automatic: gated`."""
    if found is None:
        return Road(AUDIO, "no captions pass for this video")
    status = found.get("status")
    if status != "ok":
        return Road(AUDIO, f"captions pass: {status}" + (f" ({found['reason']})" if found.get("reason") else ""))
    if not prefer_captions:
        return Road(AUDIO, "transcribe.prefer_captions is off")
    tracks = {t["kind"]: t for t in found.get("tracks") or []}
    if HUMAN in tracks:
        return Road(CAPTIONS, f"human captions ({tracks[HUMAN]['lang']})", tracks[HUMAN])
    if AUTOMATIC in tracks:
        if settings.automatic == "always":
            return Road(CAPTIONS, f"automatic captions ({tracks[AUTOMATIC]['lang']})", tracks[AUTOMATIC])
        if settings.automatic == "gated" and gate_verdict is not None:
            channel = channel_of(found)
            said = gate_verdict(channel)
            if said == "accepted":
                return Road(CAPTIONS, f"automatic captions ({tracks[AUTOMATIC]['lang']}), accepted for {channel}",
                            tracks[AUTOMATIC])  # fmt: skip
            if said == "sample":
                return Road(AUDIO, f"a sample of {channel}'s automatic captions: Whisper transcribes it to measure "
                            "them", gate_sample=channel)  # fmt: skip
            return Road(AUDIO, f"automatic captions {said} for {channel}")
        return Road(AUDIO, "automatic captions only, and captions.automatic is never")
    return Road(AUDIO, "no captions in the accepted languages")


def takes_a_turn(found: dict[str, Any] | None, settings: CaptionsPass, prefer_captions: bool) -> bool:
    """Whether the download job of a video whose captions pass recorded `found` may spend an
    account's turn, so books the account's slot: not when the video is unavailable (found
    without an account) nor when its road is certainly captions. A pure function of the record
    and the settings (the scheduler asks it when the job is ready, before any state is read), so
    it answers yes where only the gate's state can tell (`captions.automatic: gated`): a job
    holding a slot it does not use costs a second, one without a slot it needs would break the
    account's one-at-a-time."""
    if not found:
        return True
    if found.get("status") == "unavailable":
        return False
    road = choose(found, settings, prefer_captions)  # no gate: gated automatic captions say audio
    return road.name != CAPTIONS


def source_of(transcript: dict[str, Any]) -> str:
    """What a transcript was made from, in words: 'human captions', 'automatic captions' or
    'whisper <model>' (transcripts made before the captions pass say 'captions' or
    'whisper:<model>')."""
    source = str(transcript.get("source") or "none")
    if source == "captions":
        return "human captions"
    if source.startswith("whisper:"):
        return f"whisper {source.split(':', 1)[1]}"
    return source


def of_manifest(manifest: dict[str, Any]) -> str:
    """The road a download.json says its video took (before the captions pass: audio)."""
    return str(manifest.get("road") or AUDIO)

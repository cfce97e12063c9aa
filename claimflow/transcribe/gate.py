"""The gate's measurement (claimflow/download/gate.py): a sample video's automatic captions
against Whisper's transcript of its audio, as a word error rate.

Both texts are compared as words, lower case, punctuation and sound annotations ("[Music]")
aside: automatic captions have no punctuation and Whisper's has, and neither is what is being
judged. The rate is Levenshtein's distance over the word sequences (rapidfuzz) divided by the
words of Whisper's transcript, the reference: what jiwer.wer computes (a test holds the two
equal).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from claimflow.core import atomic, layout
from claimflow.core.settings import CaptionsGate
from claimflow.download import gate
from claimflow.transcribe.captions import read_track

log = logging.getLogger(__name__)

_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", _ANNOTATION.sub(" ", text.lower())).replace("'", "").split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    from rapidfuzz.distance import Levenshtein  # only where a sample is measured

    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)


def automatic_text(found: dict[str, Any], scratch: Path) -> str | None:
    """The automatic track the captions pass kept, read as a transcript reads it."""
    track = next((t for t in found.get("tracks") or [] if t.get("kind") == "automatic"), None)
    if track is None:
        return None
    scratch.write_text(str(track.get("webvtt") or ""))
    try:
        return " ".join(s.text for s in read_track(scratch).segments)
    finally:
        scratch.unlink(missing_ok=True)


def measure(vid: str, folder: Path, manifest: dict[str, Any], doc: dict[str, Any], state_root: str | Path,
            settings: CaptionsGate) -> dict[str, Any] | None:  # fmt: skip
    """For a gate sample (download.json `gate_sample`): the WER of its automatic captions against
    `doc` (Whisper's transcript), recorded with the channel; returns what goes into the
    transcript. A sample that cannot be measured gives its place to another video."""
    channel = manifest.get("gate_sample")
    if not channel:
        return None
    found = atomic.read_json_or_empty(folder / layout.FOUND)
    automatic = automatic_text(found, folder / ".gate.vtt")
    whisper = " ".join(s["text"] for s in doc.get("segments") or [])
    if doc.get("status") != "ok" or automatic is None or not words(whisper):
        gate.drop(state_root, channel, vid)
        log.info("%s: not measured for the automatic captions gate of %s (%s)", vid, channel, doc.get("status"))
        return {"channel": channel, "wer": None}
    wer = word_error_rate(whisper, automatic)
    state = gate.record(state_root, channel, vid, wer, len(words(whisper)), settings)
    log.info("%s: automatic captions against Whisper: WER %.3f (%s)", vid, wer, gate.line(state))
    return {"channel": channel, "wer": round(wer, 4), "decision": state.get("decision")}

"""The gate for automatic captions (`captions.automatic: gated`): per channel, a decision made
from measurement, not assumed.

The first `captions.gate.sample` videos of a channel that have automatic captions only are its
sample: they take the audio road, Whisper transcribes them, and the transcription stage
measures the word error rate of the automatic captions against Whisper's transcript
(claimflow/transcribe/gate.py). When the whole sample is measured, the channel is judged: its
automatic captions are accepted when the median is at most `captions.gate.max_wer`, else
rejected. From then on its videos take the captions road (accepted) or the audio road
(rejected); until then they take the audio road (nothing is ever transcribed from captions that
were not judged).

One state file per channel, `state/captions-gate/<hash>.json` (the channel's name is inside it,
never a path: a name from the network), under a file lock, so concurrent jobs and cluster jobs
agree. `claimflow gate` lists the decisions with their figures and sample, and resets one or all.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow.core import atomic
from claimflow.core.settings import CaptionsGate

ACCEPTED, REJECTED, SAMPLE, UNDECIDED = "accepted", "rejected", "sample", "undecided"
FOLDER = "captions-gate"


def path(state_root: str | Path, channel: str) -> Path:
    return Path(state_root) / FOLDER / f"{hashlib.sha256(channel.encode()).hexdigest()[:16]}.json"


def _load(file: Path, channel: str) -> dict[str, Any]:
    state = atomic.read_json_or_empty(file)
    return state if state.get("channel") == channel else {"channel": channel, "samples": {}, "decision": None}


@contextmanager
def _channel(state_root: str | Path, channel: str) -> Iterator[dict[str, Any]]:
    """The channel's state under its lock, written back only when changed."""
    file = path(state_root, channel)
    file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(file) + ".lock"):
        state = _load(file, channel)
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            atomic.write_json(file, state)


def verdict(state_root: str | Path, channel: str, vid: str, gate: CaptionsGate) -> str:
    """What the gate says for `vid` of `channel`: accepted, rejected, sample (this video is one of
    the channel's sample: the audio road, measured after) or undecided (the sample is taken and
    not yet measured: the audio road)."""
    with _channel(state_root, channel) as state:
        if state.get("decision"):
            return str(state["decision"])
        samples = state.setdefault("samples", {})
        if vid in samples:
            return SAMPLE
        if len(samples) < gate.sample:
            samples[vid] = None
            state.setdefault("started", round(time.time(), 3))
            return SAMPLE
        return UNDECIDED


def record(state_root: str | Path, channel: str, vid: str, wer: float, words: int, gate: CaptionsGate) -> dict:
    """A sample video's word error rate; judges the channel once the whole sample is measured.
    Returns the channel's state."""
    with _channel(state_root, channel) as state:
        samples = state.setdefault("samples", {})
        samples[vid] = {"wer": round(wer, 4), "words": words}
        measured = [s["wer"] for s in samples.values() if s is not None]
        if not state.get("decision") and len(measured) >= gate.sample:
            median = statistics.median(measured)
            state.update(decision=ACCEPTED if median <= gate.max_wer else REJECTED, median_wer=round(median, 4),
                         max_wer=gate.max_wer, decided=round(time.time(), 3))  # fmt: skip
        return state


def drop(state_root: str | Path, channel: str, vid: str) -> None:
    """A sample video that cannot be measured (unavailable, no speech): another video of the
    channel takes its place."""
    with _channel(state_root, channel) as state:
        if state.get("samples", {}).get(vid, "absent") is None:
            del state["samples"][vid]


def of(state_root: str | Path, channel: str) -> dict[str, Any]:
    """One channel's gate state (empty when it has none)."""
    state = atomic.read_json_or_empty(path(state_root, channel))
    return state if state.get("channel") == channel else {}


def decisions(state_root: str | Path) -> list[dict[str, Any]]:
    """Every channel's gate state, by channel."""
    found = [atomic.read_json_or_empty(p) for p in sorted((Path(state_root) / FOLDER).glob("*.json"))]
    return sorted((s for s in found if s.get("channel")), key=lambda s: s["channel"])


def reset(state_root: str | Path, channel: str | None = None) -> list[str]:
    """Forget the decision (and sample) of `channel`, or of every channel; returns the channels.
    The channel's videos not downloaded yet are then sampled again."""
    gone = []
    for state in decisions(state_root):
        if channel is None or state["channel"] == channel:
            path(state_root, state["channel"]).unlink(missing_ok=True)
            gone.append(state["channel"])
    return gone


def line(state: dict[str, Any]) -> str:
    """One channel's gate in words (status, `claimflow gate`)."""
    measured = [s for s in state.get("samples", {}).values() if s is not None]
    if state.get("decision"):
        return (f"{state['channel']}: automatic captions {state['decision']} (median WER {state['median_wer']:.2f} "
                f"over {len(measured)} videos, at most {state['max_wer']:.2f} accepted)")  # fmt: skip
    taken = len(state.get("samples", {}))
    return f"{state['channel']}: automatic captions undecided ({len(measured)} of {taken} sample videos measured)"

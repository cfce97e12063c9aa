"""Backpressure: how many videos have their audio downloaded but not yet transcribed.

Downloads are the slow, rate-limited stage, so they should run ahead of processing by a
buffer, but not unboundedly (disk, and the risk of downloading faster than needed). The
buffer sets the pace multiplier: below `min` downloads go faster (0.5x gap), above `target`
slower (1.5x), and at `max` they wait until processing catches up.
"""

from __future__ import annotations

import os
from pathlib import Path

from claimflow.core import layout
from claimflow.core.settings import Buffer


def count(results: str | Path) -> int:
    """Videos with downloaded audio (a finished download.json, audio not empty) and no
    transcript yet: the audio on disk that transcription has still to read. A video on the
    captions road has no audio and needs no transcription: it never holds the accounts back,
    and neither does the mining queue it joins (counting videos until they are mined would
    stall the audio road behind thousands of captioned videos waiting for the LLM)."""
    waiting = 0
    try:
        entries = os.scandir(results)
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            if entry.is_dir() and os.path.exists(os.path.join(entry.path, layout.DOWNLOAD)):
                if os.path.exists(os.path.join(entry.path, layout.TRANSCRIPT)):
                    continue
                try:
                    waiting += os.path.getsize(os.path.join(entry.path, layout.AUDIO)) > 0
                except OSError:  # the audio deleted after transcription (allowed): it holds no disk
                    continue
    return waiting


def factor(size: int, limits: Buffer) -> float | None:
    """Gap multiplier for a buffer of `size`; None means: wait, the buffer is full."""
    if size >= limits.max:
        return None
    if size < limits.min:
        return limits.fast
    if size > limits.target:
        return limits.slow
    return 1.0

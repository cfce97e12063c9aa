"""Backpressure: how many videos are downloaded but not yet transcribed and mined.

Downloads are the slow, rate-limited stage, so they should run ahead of processing by a
buffer, but not unboundedly (disk, and the risk of downloading faster than needed). The
buffer sets the pace multiplier: below `min` downloads go faster (0.5x gap), above `target`
slower (1.5x), and at `max` they wait until processing catches up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def count(results: str | Path) -> int:
    """Videos with a finished download.json but no claims.json yet."""
    waiting = 0
    try:
        entries = os.scandir(results)
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            if entry.is_dir() and os.path.exists(os.path.join(entry.path, "download.json")):
                waiting += not os.path.exists(os.path.join(entry.path, "claims.json"))
    return waiting


def factor(size: int, limits: dict[str, Any]) -> float | None:
    """Gap multiplier for a buffer of `size`; None means: wait, the buffer is full."""
    if size >= int(limits.get("max", 100)):
        return None
    if size < int(limits.get("min", 20)):
        return float(limits.get("fast", 0.5))
    if size > int(limits.get("target", 50)):
        return float(limits.get("slow", 1.5))
    return 1.0

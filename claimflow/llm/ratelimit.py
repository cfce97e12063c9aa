"""A requests-per-minute limit shared by every process of a batch.

Each request start reserves the next free slot in a small state file under a `filelock`:
slots are `60 / requests_per_minute` seconds apart plus 2% headroom, so no window ever holds
more starts than the limit, however many mine and evaluate jobs (or cluster nodes on a shared
filesystem) run at once. The wait happens outside the lock, so waiting processes do not block
each other from reserving.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

# Servers count requests as they arrive, and arrival times jitter by a few milliseconds
# around the client's exactly spaced starts; at 100% of the limit that jitter alone makes
# some windows count one request too many. 2% wider slots absorb it for a 2% cost in rate.
HEADROOM = 1.02


class RateLimiter:
    def __init__(
        self,
        path: str | Path,
        per_minute: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.interval = 60.0 / float(per_minute) * HEADROOM
        self.clock, self.sleep = clock, sleep
        self._lock = FileLock(str(self.path) + ".lock")

    def acquire(self) -> float:
        """Block until this process may start a request; return the seconds waited."""
        with self._lock:
            try:
                next_free = float(json.loads(self.path.read_text())["next"])
            except (FileNotFoundError, ValueError, KeyError):
                next_free = 0.0
            now = self.clock()
            start = max(now, next_free)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"next": start + self.interval}))
            tmp.replace(self.path)
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return wait

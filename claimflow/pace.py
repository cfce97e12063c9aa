"""Per-account pacing: at most one download start per account per randomized gap.

The guarantee lives in the filesystem, not in one process: the account's state file holds
its last download start, and a `filelock` on it is held while waiting and while
downloading. So it holds across restarts, across concurrent snakemake processes and across
cluster jobs sharing the results filesystem, and yt-dlp's write-back of the cookie jar
never races another download of the same account.

The gap is drawn once per download and never redrawn while waiting: redrawing on every
poll (as the system this replaces did) pulls the real gaps down toward the minimum.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow import atomic
from claimflow.accounts import state_path

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One download's slot: when it started and the pacing that led to it."""

    account: str
    gap: float
    waited: float
    started: float
    state: dict[str, Any]


def load_state(path: Path, name: str) -> dict[str, Any]:
    if path.is_file():
        return atomic.read_json(path)
    return {"name": name, "status": "active", "last_start": None, "downloads_started": 0}


def choose_range(
    state: dict[str, Any], delay: tuple[float, float], warmup: dict[str, Any] | None
) -> tuple[float, float]:
    """The gap range for this account's next download: warm-up range for its first videos."""
    if warmup and state.get("downloads_started", 0) < int(warmup.get("videos", 0)):
        return tuple(warmup["delay"])  # type: ignore[return-value]
    return delay


@contextlib.contextmanager
def wait_turn(
    account: str,
    state_dir: str | Path,
    delay: tuple[float, float],
    warmup: dict[str, Any] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Iterator[Turn]:
    """Wait until `account` may start a download, then hold it until the block ends."""
    path = state_path(state_dir, account)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        state = load_state(path, account)
        low, high = choose_range(state, delay, warmup)
        gap = (rng or random).uniform(low, high)
        waited = 0.0
        last = state.get("last_start")
        if last is not None:
            remaining = last + gap - clock()
            if remaining > 0:
                log.info("%s: waiting %.1fs (gap %.1fs drawn from [%g, %g])", account, remaining, gap, low, high)
                sleep(remaining)
                waited = remaining
        started = clock()
        # Record the start before downloading: a crash mid-download still counts as a request.
        state.update(last_start=started, last_gap=gap, downloads_started=state.get("downloads_started", 0) + 1)
        atomic.write_json(path, state)
        turn = Turn(account=account, gap=gap, waited=waited, started=started, state=state)
        try:
            yield turn
        finally:
            # Outcomes recorded by the caller are kept even when the download failed.
            atomic.write_json(path, turn.state)

"""Per-account pacing: at most one download start per account per randomized gap.

The guarantee lives in the filesystem, not in one process: the account's state file holds
its last download start, and a `filelock` on it is held while waiting and while
downloading. So it holds across restarts, across concurrent snakemake processes and across
cluster jobs sharing the results filesystem, and yt-dlp's write-back of the cookie jar
never races another download of the same account.

The gap is drawn once per download, uniformly in the account's range, times its adaptive
multiplier and the buffer's factor, and never redrawn while waiting: redrawing on every
poll (as the system this replaces did) pulls the real gaps down toward the minimum. No
gap is ever shorter than the account's floor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow.core import atomic
from claimflow.core.settings import Warmup
from claimflow.download import health
from claimflow.download.accounts import state_path

log = logging.getLogger(__name__)


class AccountUnusable(RuntimeError):
    """The account cannot download now: disabled (until is None) or paused until `until`."""

    def __init__(self, account: str, reason: str, until: float | None = None):
        super().__init__(f"{account}: {reason}")
        self.account, self.reason, self.until = account, reason, until


@dataclass
class Plan:
    """How one account paces: its range, warm-up, floor and the buffer's say."""

    delay: tuple[float, float]
    warmup: Warmup | None = None
    floor: float = 0.0
    buffer_factor: Callable[[], float | None] | None = None
    buffer_poll: float = 30.0
    buffer_max_wait: float = 3600.0


@dataclass
class Turn:
    """One download's slot: when it started and the pacing that led to it."""

    account: str
    gap: float
    waited: float
    started: float
    state: dict[str, Any] = field(repr=False)
    drawn: float = 0.0
    multiplier: float = 1.0
    buffer_factor: float = 1.0

    def timings(self) -> dict[str, float]:
        return {
            "gap": round(self.gap, 3),
            "drawn": round(self.drawn, 3),
            "multiplier": round(self.multiplier, 3),
            "buffer_factor": self.buffer_factor,
            "waited": round(self.waited, 3),
            "started": round(self.started, 3),
        }


# Waits at least this long are announced on the console too (a job's stderr reaches it), not
# only in the job's log: a user watching a batch sees why nothing moves.
CONSOLE_WAIT = 30.0


def announce(message: str) -> None:
    print(f"claimflow: {message}", file=sys.stderr, flush=True)


def load_state(path: Path, name: str, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """The account's state, validated. A corrupt file (garbage bytes, not JSON, wrong types) is
    named, kept aside as `<name>.json.corrupt-<time>`, and replaced by a conservative state: as
    if the account had just started a download, so it waits one full gap before the next."""
    fresh = {"name": name, "status": health.ACTIVE, "last_start": None, "downloads_started": 0, "multiplier": 1.0}
    if not path.is_file():
        return fresh
    try:
        state = json.loads(path.read_bytes().decode("utf-8"))
        _check_state(state)
        return state
    except (ValueError, TypeError) as problem:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        path.rename(aside)
        log.warning("%s: state file %s is corrupt (%s); kept as %s. The account starts over and waits one full "
                    "gap first.", name, path, str(problem)[:120], aside.name)  # fmt: skip
        return fresh | {"last_start": clock(), "recovered_from": aside.name}


def _check_state(state: Any) -> None:
    if not isinstance(state, dict):
        raise ValueError(f"not a JSON object but {type(state).__name__}")
    for key in ("last_start", "paused_until", "not_before"):
        if state.get(key) is not None and not isinstance(state[key], int | float):
            raise ValueError(f"{key} is {state[key]!r}, not a time")
    if not isinstance(state.get("multiplier", 1.0), int | float) or state.get("multiplier", 1.0) <= 0:
        raise ValueError(f"multiplier is {state.get('multiplier')!r}")


def choose_range(state: dict[str, Any], plan: Plan) -> tuple[float, float]:
    """The gap range for this account's next download: warm-up range for its first videos."""
    warmup = plan.warmup
    if warmup and state.get("downloads_started", 0) < warmup.videos:
        low, high = warmup.delay
        return float(low), float(high)
    return float(plan.delay[0]), float(plan.delay[1])


def _wait_for_buffer(plan: Plan, account: str, clock: Callable[[], float], sleep: Callable[[float], None]) -> float:
    if plan.buffer_factor is None:
        return 1.0
    began = clock()
    while True:
        factor = plan.buffer_factor()
        if factor is not None:
            return factor
        if clock() - began >= plan.buffer_max_wait:
            log.warning(
                "%s: buffer still full after %.0fs; is anything transcribing? going on", account, clock() - began
            )
            return 1.0
        log.info("%s: buffer full, waiting for processing to catch up", account)
        if clock() == began:
            announce(f"{account} waits for processing: the buffer is full (at most {plan.buffer_max_wait:.0f}s)")
        sleep(plan.buffer_poll)


@contextlib.contextmanager
def wait_turn(
    account: str,
    state_dir: str | Path,
    plan: Plan,
    *,
    cookies: str | None = None,
    allow_paused: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Iterator[Turn]:
    """Wait until `account` may start a download, then hold it until the block ends."""
    path = state_path(state_dir, account)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        state = load_state(path, account, clock)
        health.refresh(state, health.cookie_mtime(cookies))
        if health.is_disabled(state):
            atomic.write_json(path, state)
            raise AccountUnusable(account, f"disabled: {state.get('disabled_reason')}")
        until = health.paused_until(state, clock())
        if until and not allow_paused:
            raise AccountUnusable(account, f"paused for {until - clock():.0f}s more after repeated rate limits", until)
        began = clock()
        factor = _wait_for_buffer(plan, account, clock, sleep)
        low, high = choose_range(state, plan)
        drawn = (rng or random).uniform(low, high)
        scale = health.multiplier(state)
        gap = max(plan.floor, drawn * scale * factor)
        last = state.get("last_start")
        if last is not None and last > clock() + 1.0:
            # A start in the future: a clock set back, or state copied from another machine.
            # Never sit on the account for hours: wait one gap from now at most.
            log.warning("%s: last download start is %.0fs in the future (clock skew?); waiting at most one gap "
                        "(%.1fs) from now", account, last - clock(), gap)  # fmt: skip
            last = clock()
            state["last_start"] = last
        start_at = max((last + gap) if last is not None else 0.0, health.ready_at(state))
        remaining = start_at - clock()
        if remaining > 0:
            if remaining >= CONSOLE_WAIT:
                announce(f"{account} waits {remaining:.0f}s before its next download (pacing gap {gap:.0f}s"
                         f"{', after rate limits' if scale > 1 else ''})")  # fmt: skip
            log.info("%s: waiting %.1fs (gap %.1fs = %.1fs drawn in [%g, %g] x%.2f adaptive x%.2f buffer)",
                     account, remaining, gap, drawn, low, high, scale, factor)  # fmt: skip
            sleep(remaining)
        started = clock()
        # Record the start before downloading: a crash mid-download still counts as a request.
        state.update(last_start=started, last_gap=gap, downloads_started=state.get("downloads_started", 0) + 1)
        atomic.write_json(path, state)
        turn = Turn(account, gap, started - began, started, state, drawn, scale, factor)
        try:
            yield turn
        finally:
            # Outcomes recorded by the caller are kept even when the download failed.
            atomic.write_json(path, turn.state)

"""Account health: how download outcomes change an account's pace and availability.

The rules come from the seed's adaptive rate limiter, made persistent (they live in the
account's state file, updated under its lock):
- rate limited: the gap multiplier grows (x1.5); after `max_failures` in a row the account
  pauses for a random time in `pause` (1-2 h); a Retry-After is honoured as a minimum wait.
- success: the multiplier shrinks by `success_step` down to 1.0; the streak resets.
- auth failed: the account is disabled with its reason. It comes back by itself when its
  cookie file is replaced (a new export), or when the user deletes its state file.
- transient: the next start waits an exponential back-off with jitter.
"""

from __future__ import annotations

import math
import os
import random
from typing import Any

from claimflow.core.settings import Adaptive

ACTIVE = "active"
DISABLED = "disabled"


def cookie_mtime(path: str | None) -> float | None:

    if not path:
        return None
    try:
        return os.stat(os.path.expanduser(path)).st_mtime
    except OSError:
        return None


def refresh(state: dict[str, Any], cookies_mtime: float | None) -> None:
    """Re-enable a disabled account whose cookie file was replaced since it was disabled."""
    if state.get("status") == DISABLED and cookies_mtime and cookies_mtime != state.get("cookies_mtime"):
        state.update(status=ACTIVE, disabled_reason=None, reenabled="cookie file replaced")


def is_disabled(state: dict[str, Any]) -> bool:
    return state.get("status") == DISABLED


def paused_until(state: dict[str, Any], now: float) -> float | None:
    until = state.get("paused_until")
    return until if until and until > now else None


def ready_at(state: dict[str, Any]) -> float:
    """The earliest moment a new download may start, apart from the pacing gap."""
    return max(state.get("paused_until") or 0.0, state.get("not_before") or 0.0)


def multiplier(state: dict[str, Any]) -> float:
    return float(state.get("multiplier", 1.0))


def on_success(state: dict[str, Any], adaptive: Adaptive, now: float) -> None:
    state["multiplier"] = round(max(1.0, multiplier(state) - adaptive.success_step), 6)
    state.update(rate_limit_streak=0, transient_streak=0, last_outcome="ok", last_outcome_at=now)
    state["successes"] = state.get("successes", 0) + 1


def on_rate_limited(
    state: dict[str, Any],
    adaptive: Adaptive,
    now: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> None:
    state["multiplier"] = round(multiplier(state) * adaptive.failure_multiplier, 6)
    streak = state.get("rate_limit_streak", 0) + 1
    state.update(rate_limit_streak=streak, last_outcome="rate_limited", last_outcome_at=now)
    state["failures"] = state.get("failures", 0) + 1
    if retry_after:
        state["not_before"] = max(state.get("not_before") or 0.0, now + float(retry_after))
    if streak >= adaptive.max_failures:
        low, high = adaptive.pause
        state["paused_until"] = now + (rng or random).uniform(low, high)
        state["rate_limit_streak"] = 0
        state["pauses"] = state.get("pauses", 0) + 1


def on_auth_failed(state: dict[str, Any], reason: str, now: float, cookies_mtime: float | None) -> None:
    state.update(
        status=DISABLED,
        disabled_reason=reason,
        disabled_at=now,
        cookies_mtime=cookies_mtime,
        last_outcome="auth_failed",
        last_outcome_at=now,
    )
    state["failures"] = state.get("failures", 0) + 1


def on_transient(
    state: dict[str, Any], now: float, base: float = 5.0, cap: float = 600.0, rng: random.Random | None = None
) -> None:
    streak = state.get("transient_streak", 0) + 1
    backoff = min(cap, base * math.pow(2, streak - 1)) * (rng or random).uniform(0.5, 1.0)
    state.update(transient_streak=streak, not_before=now + backoff, last_outcome="transient", last_outcome_at=now)
    state["failures"] = state.get("failures", 0) + 1

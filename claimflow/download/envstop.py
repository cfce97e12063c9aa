"""The environment stop: when downloads keep failing because our side is broken (no
JavaScript runtime, an outdated yt-dlp, a broken extractor), stop downloading instead of
sending thousands of futile requests, and say once what to fix.

Download jobs share `state/downloads-environment.json` under a file lock: the videos that
failed with an environment error since the last successful download. When `threshold`
different videos in a row have failed so, the stop is on: every later download job of the
run fails at once, before any request, with the cause and the fix, and the videos already
downloaded go on through the other stages. Nothing is marked unavailable. A new run starts
afresh (the workflow's `onstart` clears the file), so fixing the cause and running the same
command again downloads them all.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow.core import atomic, layout, notify
from claimflow.download.outcomes import ENVIRONMENT_FIXES, Outcome

JOB_LEAD = "this run's downloads are stopped"


class EnvironmentStop(RuntimeError):
    """Downloads are stopped for this run: the environment, not the videos, is failing."""


def _path(state_dir: str | Path) -> Path:
    return Path(layout.State.of(state_dir).downloads_stop)


def _load(path: Path) -> dict[str, Any]:
    try:
        return atomic.read_json(path) if path.is_file() else {}
    except ValueError:
        return {}  # a torn or foreign file: start the streak afresh


def message(streak: dict[str, Any], lead: str = "claimflow: downloads stopped") -> str:
    """The stop, its cause and the fix: printed once by the workflow (`lead` as is), and in
    each download job it stops (with another lead, so the console's one line stays one)."""
    cause = streak.get("reason_class") or "extractor"
    return (
        f"{lead}: {len(streak.get('vids', []))} videos in a row failed because of the "
        f"environment, not the videos ({cause}: {streak.get('reason')}). Nothing was marked unavailable and "
        f"finished work is kept. Fix: {ENVIRONMENT_FIXES.get(cause, ENVIRONMENT_FIXES['extractor'])}; "
        f"then run the same command again."
    )


def check(state_dir: str | Path, threshold: int) -> None:
    """Raise EnvironmentStop if the stop is on (called before a download's first request)."""
    streak = _load(_path(state_dir))
    if len(streak.get("vids", [])) >= threshold:
        raise EnvironmentStop(message(streak, JOB_LEAD))


def record_failure(state_dir: str | Path, vid: str, outcome: Outcome, threshold: int) -> bool:
    """Count an environment failure of `vid`; True when it switched the stop on."""
    path = _path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        streak = _load(path)
        vids = streak.get("vids", [])
        if vid not in vids:
            vids.append(vid)
        streak.update(vids=vids, reason=outcome.reason, reason_class=outcome.reason_class, at=time.time())
        atomic.write_json(path, streak)
        if len(vids) == threshold:  # the failure that switched it on: said once, to `notify:`
            notify.emit(state_dir, notify.DOWNLOADS_STOPPED, "claimflow: downloads stopped", message(streak))
        return len(vids) >= threshold


def record_success(state_dir: str | Path) -> None:
    """A download went through: whatever failed before was not the whole environment."""
    path = _path(state_dir)
    if not path.is_file():
        return
    with FileLock(str(path) + ".lock"):
        if _load(path).get("vids"):
            atomic.write_json(path, {"vids": [], "reset_at": time.time()})


def reset(state_dir: str | Path) -> None:
    """A new run: give the environment a fresh chance (the user may have fixed it)."""
    _path(state_dir).unlink(missing_ok=True)


def current(state_dir: str | Path) -> dict[str, Any]:
    return _load(_path(state_dir))

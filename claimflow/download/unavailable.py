"""Videos that ended as unavailable, by reason, and the switch that retries them.

A verdict of `unavailable` is permanent for the workflow: a rerun does not ask again. Some
reasons can change (an account gains age verification or a membership, a proxy moves, a
premiere starts, a 404 was an outage), and manifests written before claimflow told
environment failures apart carry no reason class at all. `claimflow unavailable` lists them;
`--retry CLASS ...` sets their download outputs aside (kept, renamed), so the next run of the
same command downloads them again and processes them through every stage.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from claimflow.core import layout

# Reasons that may change; `private`, `removed`, `terminated`, `copyright` and `drm` rarely do.
RETRYABLE = ("geo_blocked", "age_restricted", "members_only", "upcoming", "not_found", "unknown")


@dataclass(frozen=True)
class Unavailable:
    vid: str
    reason_class: str
    reason: str
    account: str | None


def find(results: str | Path) -> list[Unavailable]:
    found = []
    for manifest in sorted(Path(results).glob("*/download.json")):
        try:
            doc = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("status") == "unavailable":
            found.append(Unavailable(manifest.parent.name, doc.get("reason_class") or "unknown",
                                     doc.get("reason") or "", doc.get("account")))  # fmt: skip
    return found


def by_reason(items: list[Unavailable]) -> Counter[str]:
    return Counter(item.reason_class for item in items)


def retry(results: str | Path, items: list[Unavailable], classes: set[str]) -> list[str]:
    """Set aside the download outputs of the videos whose reason is in `classes`; return their ids."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    retried = []
    for item in items:
        if item.reason_class not in classes and "all" not in classes:
            continue
        folder = Path(results) / item.vid
        aside = folder / f"{layout.SET_ASIDE}{stamp}"
        aside.mkdir(exist_ok=True)
        # The captions pass's record too: it may be what said unavailable, and it asks again.
        for name in (layout.FOUND, *layout.DOWNLOAD_OUTPUTS):
            if (folder / name).exists():
                (folder / name).rename(aside / name)
        retried.append(item.vid)
    return retried

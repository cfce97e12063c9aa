"""Partial work, retried by a plain rerun, the Snakemake way.

A video whose mining left failed windows (or whose evaluation left failed batches) is
`partial`: it goes on through evaluate and store with what it has, so the batch never waits
on it, and it is counted as partial in the summary and the run's last line. Its stage records
the video here, `results/retries.json` ({stage: {vid: round}}), raising the video's round.
The rule passes the round as a param, read from this one file once per parse (no per-job
read), so the next run sees a changed param and reruns exactly that stage of exactly that
video (Snakemake's params trigger), and what follows it. The answered windows come from the
LLM cache at no cost, so only the failed ones are asked again. A round never goes down: a
rerun that completes records nothing, its param stays equal, and nothing reruns after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow.core import atomic, layout


def load(results: str | Path | layout.Results) -> dict[str, dict[str, int]]:
    path = Path(layout.Results.of(results).retries)
    try:
        data = atomic.read_json(path) if path.is_file() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def round_of(index: dict[str, Any], stage: str, vid: str) -> int:
    return int((index.get(stage) or {}).get(vid, 0))


def record_partial(results: str | Path | layout.Results, stage: str, vid: str) -> int:
    """Mark `vid` for a retry of `stage` on the next run; return its new round."""
    path = Path(layout.Results.of(results).retries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        index = load(results)
        index.setdefault(stage, {})[vid] = round_of(index, stage, vid) + 1
        atomic.write_json(path, index)
        return index[stage][vid]

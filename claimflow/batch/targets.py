"""What the default target asks for: each video's stored marker, and any product deleted since.

Snakemake looks for a missing file only where it is a target or where a job that must run
needs it: a deleted `claims.json` under an existing `stored.json` is otherwise a spent
intermediate, and the user who deleted it to redo a video's mining would get "Nothing to be
done". Naming all eight products of every video as targets made Snakemake walk each video's
chain eight times: 1.3 s more at 3,000 videos in a dry run, paid by every run. Instead the
main process lists each existing video folder once (one directory read per video, no file
opened) and names as targets only the stored marker and the products that are missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from claimflow.core import layout


def _names(folder: str) -> set[str] | None:
    try:
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return None


def final_outputs(results: str | Path | layout.Results, vids: Iterable[str], look: bool = True,
                  linked: bool = False, judged: bool = False, summarized: bool = False) -> list[str]:  # fmt: skip
    """Per video its marker (and with `linked` its link marker, with `judged` its judgement,
    with `summarized` its summary), then (with `look`) each product
    missing from a folder that exists.

    A video never started has no folder: its marker alone plans its whole chain. Without
    `look` (a cluster job's re-parse, which never builds the default target) no folder is read.
    """
    results = layout.Results.of(results)
    folders = _names(results.root) if look else None
    targets: list[str] = []
    for vid in vids:
        targets.append(results.video(vid, layout.STORED))
        if linked:
            targets.append(results.video(vid, layout.LINKED))
        if judged:
            targets.append(results.video(vid, layout.JUDGED))
        if summarized:
            targets.append(results.video(vid, layout.SUMMARIZED))
        if folders is None or vid not in folders:
            continue
        present = _names(results.video(vid)) or set()
        targets.extend(results.video(vid, name) for name in layout.PRODUCTS if name not in present)
    return targets

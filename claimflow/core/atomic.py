"""Atomic file writes: a killed job never leaves a half-written output behind.

Every writer goes through a temporary file in the destination's own directory (so the
final rename stays on one filesystem and is atomic) and renames it into place only once
the content is complete and flushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _file_mode() -> int:
    # mkstemp creates 0600 files; outputs should get the mode a plain open() would give.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix + ".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, _MODE)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file for writing that replaces `path` when closed without error."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_json_or_empty(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object file for a view of a batch in progress: {} when it is missing, half
    written or not an object, so one bad file never stops a status or a report."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def benchmark_seconds(path: str | os.PathLike[str]) -> float | None:
    """Wall seconds from a Snakemake `benchmark:` file, or None when it has none."""
    try:
        with open(path, encoding="utf-8") as handle:
            return float(handle.read().splitlines()[1].split("\t")[0])
    except (OSError, IndexError, ValueError):
        return None

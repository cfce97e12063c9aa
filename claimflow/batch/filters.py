"""Which entries of a collection's listing the batch takes, and how many each filter removed.

The names follow yt-dlp's own options where there is one (`--dateafter`, `--datebefore`,
`--match-filter duration`, `--max-downloads`): dates are inclusive, durations in seconds, title
patterns are regular expressions searched case-insensitively. An entry the listing gave no date
(or no duration) is kept and counted as unknown for that filter, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

# The order filters are tried in; an entry removed is counted against the first that removes it,
# so the counts add up to listed - kept.
NAMES = ("after", "before", "min_duration", "max_duration", "title_include", "title_exclude", "max_entries")


@dataclass(frozen=True)
class Filters:
    after: str | None = None  # YYYY-MM-DD, inclusive
    before: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    title_include: str | None = None
    title_exclude: str | None = None
    max_entries: int | None = None

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> Filters:
        section = section or {}
        values = {name: section.get(name) for name in NAMES}
        for name in ("after", "before"):
            if values[name] is not None:
                values[name] = normalize_date(str(values[name]), name)
        for name in ("title_include", "title_exclude"):
            if values[name] is not None:
                try:
                    re.compile(values[name])
                except re.error as error:
                    problem = f"{values[name]!r} is not a regular expression ({error})"
                    raise ValueError(f"filters.{name}: {problem}") from None
        return cls(**values)

    def over(self, other: Filters) -> Filters:
        """These filters, with `other`'s set values taking precedence (a collection's own over the
        global ones)."""
        mine = dataclasses.asdict(self)
        mine.update({k: v for k, v in dataclasses.asdict(other).items() if v is not None})
        return Filters(**mine)

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def normalize_date(text: str, name: str = "date") -> str:
    """'2023-01-05', '20230105' or a YAML date -> '20230105' (yt-dlp's upload_date form)."""
    digits = text.replace("-", "")
    if not re.fullmatch(r"\d{8}", digits):
        raise ValueError(f"filters.{name}: {text!r} is not a date; write it as YYYY-MM-DD")
    return digits


@dataclass
class Selection:
    kept: list[dict[str, Any]]
    listed: int
    removed: dict[str, int] = field(default_factory=dict)  # filter name -> entries it removed
    unknown: dict[str, int] = field(default_factory=dict)  # "date" / "duration" -> kept without it

    def counts(self) -> dict[str, Any]:
        return {"listed": self.listed, "kept": len(self.kept), "removed": self.removed, "unknown": self.unknown}


def _first_rejecting(entry: dict[str, Any], filters: Filters) -> str | None:
    date, duration, title = entry.get("upload_date"), entry.get("duration"), entry.get("title") or ""
    if date is not None:
        if filters.after is not None and date < filters.after:
            return "after"
        if filters.before is not None and date > filters.before:
            return "before"
    if duration is not None:
        if filters.min_duration is not None and duration < filters.min_duration:
            return "min_duration"
        if filters.max_duration is not None and duration > filters.max_duration:
            return "max_duration"
    if filters.title_include is not None and not re.search(filters.title_include, title, re.IGNORECASE):
        return "title_include"
    if filters.title_exclude is not None and re.search(filters.title_exclude, title, re.IGNORECASE):
        return "title_exclude"
    return None


def select(entries: list[dict[str, Any]], filters: Filters) -> Selection:
    """Apply `filters` to listing entries (dicts with upload_date 'YYYYMMDD' or None, duration
    seconds or None, title, position). `max_entries` keeps the most recent N of what the other
    filters kept: by upload date, newest first; entries without a date after them, in listing
    order."""
    selection = Selection(kept=[], listed=len(entries), removed=dict.fromkeys(NAMES, 0))
    unknown = {"date": 0, "duration": 0}
    for entry in entries:
        reason = _first_rejecting(entry, filters)
        if reason is not None:
            selection.removed[reason] += 1
            continue
        if entry.get("upload_date") is None and (filters.after or filters.before or filters.max_entries):
            unknown["date"] += 1
        if entry.get("duration") is None and (filters.min_duration is not None or filters.max_duration is not None):
            unknown["duration"] += 1
        selection.kept.append(entry)
    if filters.max_entries is not None and len(selection.kept) > filters.max_entries:
        dated = [e for e in selection.kept if e.get("upload_date")]
        dated.sort(key=lambda e: e["upload_date"], reverse=True)
        undated = [e for e in selection.kept if not e.get("upload_date")]
        ranked = dated + undated
        selection.removed["max_entries"] = len(ranked) - filters.max_entries
        chosen = {id(e) for e in ranked[: filters.max_entries]}
        selection.kept = [e for e in selection.kept if id(e) in chosen]
    selection.removed = {k: v for k, v in selection.removed.items() if v}
    selection.unknown = {k: v for k, v in unknown.items() if v}
    return selection

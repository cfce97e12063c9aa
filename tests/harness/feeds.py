"""A podcast feed (RSS 2.0 with iTunes tags) written into the media server's folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Episode:
    guid: str
    title: str
    day: str  # YYYY-MM-DD
    file: str  # served from the same folder
    seconds: int | None = None


def write_feed(folder: Path, name: str, base_url: str, title: str, episodes: list[Episode]) -> str:
    """Write `folder/name` listing `episodes` (their media under `base_url`); return its path
    on the server."""
    items = []
    for ep in episodes:
        date = format_datetime(datetime.fromisoformat(ep.day).replace(hour=10, tzinfo=UTC))
        duration = f"<itunes:duration>{ep.seconds}</itunes:duration>" if ep.seconds else ""
        items.append(
            f"<item><title>{escape(ep.title)}</title><guid>{escape(ep.guid)}</guid><pubDate>{date}</pubDate>"
            f'{duration}<enclosure url="{base_url}/{ep.file}" type="audio/ogg" length="1"/></item>'
        )
    (folder / name).write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{escape(title)}</title><link>{base_url}/</link><description>test</description>"
        + "".join(items)
        + "</channel></rss>\n",
        encoding="utf-8",
    )
    return f"/{name}"

"""Podcast feeds, read with feedparser.

A feed is fetched by the list_collection job through yt-dlp's own networking (the account's
proxy, timeouts, impersonation and source address, as for a download) and parsed by feedparser,
which reads RSS 0.9x, 1.0 and 2.0 and Atom, tolerates what real feeds carry (a blank line before
`<?xml`, the iTunes namespace in the wrong case, HTML in CDATA, odd date formats) and reads the
iTunes tags. yt-dlp's generic extractor, which reads only some RSS, refused such feeds outright.

Per item: the media enclosure chosen by type (audio, then video, then an untyped link that is not
an image; never cover art), resolved against the feed's own address (after redirects); a video
page link that a site extractor knows (a YouTube or Vimeo feed links its videos); the guid, else
the link, as the entry's id; the date and the duration as the feed writes them.

Remote never becomes local: an address from a feed can only be a network address. A relative
enclosure resolves against the feed's http(s) address; an item naming `file:` or any other scheme
is skipped and counted, so a remote feed can never make claimflow read a file on this machine.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from claimflow.batch.sources import names_a_video

log = logging.getLogger(__name__)

# A feed larger than this is not a podcast feed (the largest real ones are a few MB).
MAX_FEED_BYTES = 64 * 1024 * 1024
NETWORK_SCHEMES = ("http", "https")
_DURATION = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


class FeedUnreadable(RuntimeError):
    """The address did not give a feed; the message says what it gave."""


@dataclass(frozen=True)
class FeedItem:
    entry_id: str
    url: str  # the media (or video page) to download: always http(s)
    title: str | None
    upload_date: str | None  # YYYYMMDD, UTC
    duration: float | None  # seconds


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: tuple[FeedItem, ...]
    skipped: dict[str, int]  # items left out, by reason: no_media, not_a_web_address


def is_network_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in NETWORK_SCHEMES and bool(parts.hostname)


def parse_duration(text: Any) -> float | None:
    """iTunes durations as feeds write them: 'HH:MM:SS', 'MM:SS', seconds ('3600', '3600.5')."""
    if text is None:
        return None
    match = _DURATION.match(str(text).strip())
    if not match:
        return None
    first, second, last = match.groups()
    if second is None and first is not None:  # MM:SS
        hours, minutes = 0.0, float(first)
    else:
        hours, minutes = float(first or 0), float(second or 0)
    seconds = hours * 3600 + minutes * 60 + float(last)
    return seconds or None


def _kind(link: dict[str, Any]) -> str:
    """'audio', 'video', 'image', 'other' or 'unknown' for an enclosure, from its type or, when
    it has none, its file name."""
    kind = str(link.get("type") or "").lower()
    if not kind:
        kind = mimetypes.guess_type(urlsplit(str(link.get("href") or "")).path)[0] or ""
        if not kind:
            return "unknown"
    major = kind.split("/", 1)[0].removeprefix("x-")
    if "audio" in kind or major == "audio":
        return "audio"
    if major == "video":
        return "video"
    return "image" if major == "image" else "other"


_PREFERENCE = {"audio": 0, "video": 1, "unknown": 2}


def media_link(entry: dict[str, Any]) -> str | None:
    """The item's enclosure to download (raw href as written), best kind first."""
    links = [link for link in entry.get("links", []) if link.get("rel") == "enclosure" and link.get("href")]
    ranked = sorted((_PREFERENCE[_kind(link)], index, link["href"]) for index, link in enumerate(links)
                    if _kind(link) in _PREFERENCE)  # fmt: skip
    return ranked[0][2] if ranked else None


def _video_page(entry: dict[str, Any], base: str) -> str | None:
    """A link to a single video on a site yt-dlp has an extractor for (YouTube, Vimeo, ...)."""
    for link in entry.get("links", []):
        href = urljoin(base, str(link.get("href") or ""))
        if link.get("rel") in (None, "alternate") and is_network_url(href) and names_a_video(href):
            return href
    return None


def _date(entry: dict[str, Any]) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None

    return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC).strftime("%Y%m%d")


def parse(data: bytes, url: str, content_type: str | None = None) -> Feed:
    """A feed's bytes (served at `url`, the address after redirects) as its items."""
    import feedparser  # feedparser: only where a feed is read

    # Not told the feed's address: feedparser would resolve a guid that is no URL ("ep-2") against
    # it, and an episode's id would depend on redirects. Links are resolved here instead.
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise FeedUnreadable(f"it is not a feed (RSS or Atom){f': {problem}' if problem else ''}")
    if parsed.get("bozo"):
        log.info("feed %s read despite: %s", url, parsed.get("bozo_exception"))
    items: list[FeedItem] = []
    skipped = {"no_media": 0, "not_a_web_address": 0}
    for entry in parsed.entries:
        href = media_link(entry)
        target = urljoin(url, href) if href else _video_page(entry, url)
        if target is None:
            skipped["no_media"] += 1
            continue
        if not is_network_url(target):
            log.warning("feed %s: an item names %r, which is not a web address; skipped", url, target[:200])
            skipped["not_a_web_address"] += 1
            continue
        entry_id = str(entry.get("id") or entry.get("link") or target)
        duration = parse_duration(entry.get("itunes_duration"))
        items.append(FeedItem(entry_id, target, entry.get("title"), _date(entry), duration))
    return Feed(parsed.feed.get("title"), tuple(items), {k: n for k, n in skipped.items() if n})


def fetch(url: str, ytdlp_options: dict[str, Any]) -> tuple[bytes, str, str | None]:
    """The feed's bytes, its address after redirects and its content type, fetched by yt-dlp's
    networking with the listing account's options. A redirect to anything but http(s) fails."""
    import yt_dlp  # yt-dlp is heavy (half a second): only where a request is made
    from yt_dlp.networking import Request  # yt-dlp is heavy (half a second): only where a request is made
    from yt_dlp.networking.exceptions import (  # yt-dlp is heavy (half a second): only where a request is made
        HTTPError,
        RequestError,
    )

    options = dict(ytdlp_options, enable_file_urls=False)
    with yt_dlp.YoutubeDL(options) as ydl:
        try:
            with ydl.urlopen(Request(url)) as response:
                final = str(response.url or url)
                if not is_network_url(final):
                    raise FeedUnreadable(f"it redirected to {final[:200]!r}, which is not a web address")
                data = response.read(MAX_FEED_BYTES + 1)
                content_type = response.headers.get("Content-Type")
        except HTTPError as error:
            raise FeedUnreadable(f"HTTP Error {error.status}: {error.reason}") from None
        except RequestError as error:
            raise FeedUnreadable(str(error.msg or error)) from None
    if len(data) > MAX_FEED_BYTES:
        raise FeedUnreadable(f"it is larger than {MAX_FEED_BYTES // 2**20} MB, which no podcast feed is")
    return data, final, content_type


def list_feed(url: str, ytdlp_options: dict[str, Any]) -> Feed:
    data, final, content_type = fetch(url, ytdlp_options)
    return parse(data, final, content_type)

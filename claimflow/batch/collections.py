"""Collections as sources: a channel, a playlist or a podcast feed, listed by a job of its own.

A sources line that names a collection (yt-dlp's extractor for it is a Tab, Playlist, Channel,
... extractor; or a feed address; or a `collections:` entry of the config) is never expanded at
parse time: the `list_collection` job asks the site for its entries (yt-dlp, flat, through an
account's pacing like a download), writes `results/collections/<cid>/listing.json`, and the
`select_collection` checkpoint applies the filters (claimflow/batch/filters.py). Each entry becomes a
video like any URL line, by the same id rules (claimflow/batch/sources.py), so a video in two
collections, or also listed by itself, is one video.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.batch import feeds
from claimflow.batch.filters import Filters
from claimflow.batch.filters import select as apply_filters
from claimflow.batch.sources import Batch, Collection, Source, SourceError, resolve_video
from claimflow.core import atomic, layout
from claimflow.core.logs import redact
from claimflow.download import cookies, pace, ytdlp
from claimflow.download.accounts import check_cookie_file, pacing_of

log = logging.getLogger(__name__)

# How deep a collection of collections (a channel's tabs) is followed.
MAX_DEPTH = 2


@dataclass(frozen=True)
class Entry:
    """One item of a collection's listing, as the site gave it."""

    position: int  # 1-based, in the listing's order
    entry_id: str  # the site's id for it (a feed item's guid)
    url: str  # what a download fetches
    title: str | None
    upload_date: str | None  # YYYYMMDD (UTC), None when the listing gave none
    duration: float | None  # seconds

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "entry_id": self.entry_id, "url": self.url, "title": self.title,
                "upload_date": self.upload_date, "duration": self.duration}  # fmt: skip


def _date_of(raw: dict[str, Any]) -> str | None:
    if date := raw.get("upload_date") or raw.get("release_date"):
        return str(date)
    stamp = raw.get("timestamp") or raw.get("release_timestamp")
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(float(stamp), dt.UTC).strftime("%Y%m%d")


def entry_from(raw: dict[str, Any], position: int) -> Entry | None:
    """A flat yt-dlp entry -> Entry; None when it carries no address to download."""
    from yt_dlp.utils import unsmuggle_url  # yt-dlp is heavy (half a second): only where a request is made

    url, smuggled = unsmuggle_url(raw.get("url") or raw.get("webpage_url") or "", {})
    if not url:
        return None
    entry_id = str((smuggled or {}).get("force_videoid") or raw.get("id") or url)
    duration = raw.get("duration")
    return Entry(position, entry_id, url, raw.get("title"), _date_of(raw), float(duration) if duration else None)


def _is_collection(raw: dict[str, Any]) -> bool:
    return raw.get("_type") in ("playlist", "multi_video") or str(raw.get("ie_key") or "").endswith(
        ("Tab", "Playlist", "Channel", "User")
    )


class ListingFailed(RuntimeError):
    """The site did not give the collection's entries; the message names it and the fix."""


def list_entries(url: str, ytdlp_options: dict[str, Any]) -> tuple[str | None, list[Entry]]:
    """The collection's title and entries, flat (one request per page of the listing; no video
    page is fetched). A collection of collections (a channel's Videos/Shorts/Live tabs) is
    followed MAX_DEPTH levels down."""
    import yt_dlp  # yt-dlp is heavy (half a second): only where a request is made

    options = dict(ytdlp_options, extract_flat="in_playlist", skip_download=True, noplaylist=False)
    entries: list[Entry] = []
    seen: set[str] = set()
    with yt_dlp.YoutubeDL(options) as ydl:

        def walk(address: str, depth: int) -> str | None:
            try:
                info = ydl.extract_info(address, download=False)
            except yt_dlp.utils.DownloadError as error:
                raise ListingFailed(str(error).removeprefix("ERROR: ")) from None
            if info is None:
                raise ListingFailed("yt-dlp returned nothing for it")
            info = ydl.sanitize_info(info)
            if info.get("_type") not in ("playlist", "multi_video"):
                raise ListingFailed("it is a single video, not a collection; list it as a video line instead")
            for raw in info.get("entries") or []:
                if not raw:
                    continue
                if _is_collection(raw) and raw.get("url") and depth < MAX_DEPTH:
                    walk(raw["url"], depth + 1)
                    continue
                entry = entry_from(raw, len(entries) + 1)
                if entry is not None and entry.url not in seen:
                    seen.add(entry.url)
                    entries.append(entry)
            return info.get("title")

        title = walk(url, 1)
    return title, entries


def write_listing(path: str | Path, collection: Collection, title: str | None, entries: list[Entry],
                  account: str | None, history: Path | None = None,
                  skipped: dict[str, int] | None = None) -> dict[str, Any]:  # fmt: skip
    """The listing: this listing's entries, then the entries earlier listings had and this one
    has not (`listed: false`, from `history` in the state folder): a collection's videos are
    never forgotten, so a video removed from a channel stays in the batch and its summary."""
    current = [dict(e.as_dict(), listed=True) for e in entries]
    urls = {e.url for e in entries}
    try:
        earlier = atomic.read_json(history)["entries"] if history else []
    except (FileNotFoundError, ValueError, KeyError):
        earlier = []
    gone = [dict(e, listed=False, position=None) for e in earlier if e["url"] not in urls]
    doc = {"collection": collection.cid, "url": collection.url, "kind": collection.kind, "title": title,
           "listed_at": round(time.time(), 3), "account": account, "entries": current + gone}  # fmt: skip
    if skipped:
        doc["skipped"] = dict(skipped)  # items the listing left out, by reason (no_media, not_a_web_address)
    atomic.write_json(path, doc)
    return doc


def list_feed_entries(url: str, ytdlp_options: dict[str, Any]) -> tuple[str | None, list[Entry], dict[str, int]]:
    """A podcast feed's title and entries (claimflow/batch/feeds.py), and the items left out by reason."""
    try:
        feed = feeds.list_feed(url, ytdlp_options)
    except feeds.FeedUnreadable as error:
        raise ListingFailed(str(error)) from None
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in feed.items:
        if item.url in seen:  # one episode listed twice (a feed's own duplicate item)
            continue
        seen.add(item.url)
        entries.append(Entry(len(entries) + 1, item.entry_id, item.url, item.title, item.upload_date, item.duration))
    return feed.title, entries, feed.skipped


def run_listing(
    collection: Collection,
    account: Any,  # claimflow.download.accounts.Account
    state_dir: str | Path,
    pacing: Any,  # claimflow.core.settings.Pacing
    listing_out: str | Path,
    socket_timeout: float = 30.0,
    passthrough: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The list_collection job: the account's turn (a listing is a request to the site like a
    download: the same gap, the same lock), then the flat listing, written atomically. A feed is
    read with feedparser, a channel or playlist with yt-dlp; either way yt-dlp's networking sends
    the requests, with a private copy of the account's cookies (claimflow/download/cookies.py)."""

    check_cookie_file(account)
    workdir = Path(listing_out).parent / ".listing"
    workdir.mkdir(parents=True, exist_ok=True)
    own = pacing_of(account, pacing)
    plan = pace.Plan(delay=own.delay, warmup=own.warmup, floor=own.floor)
    skipped: dict[str, int] = {}
    with cookies.private_copy(account.cookies) as jar, \
            pace.wait_turn(account.name, state_dir, plan, cookies=account.cookies):  # fmt: skip
        options = ytdlp.options(account, workdir, socket_timeout, None, passthrough, cookiefile=jar)
        log.info("%s: listing %s with %s", collection.cid, redact(collection.url), account.describe())
        try:
            if collection.kind == "feed":
                title, entries, skipped = list_feed_entries(collection.url, options)
            else:
                title, entries = list_entries(collection.url, options)
        except ListingFailed as error:
            raise ListingFailed(
                f"collection {collection.cid} ({redact(collection.url)}) could not be listed: {redact(str(error))}. "
                "The other sources go on; run the same command again to list it again."
            ) from None
    log.info("%s: %d entries listed%s", collection.cid, len(entries),
             "".join(f", {n} left out ({why.replace('_', ' ')})" for why, n in skipped.items()))  # fmt: skip
    history = Path(state_dir).parent / "collections" / f"{collection.cid}.json"
    doc = write_listing(listing_out, collection, title, entries, account.name, history, skipped)
    atomic.write_json(history, {"collection": collection.cid, "entries": doc["entries"]})
    return doc


def select(listing: dict[str, Any], filters: Filters) -> dict[str, Any]:
    """The select_collection checkpoint: the listing's entries through the filters, each kept
    one with its video id (by the sources rules), and the counts of what each filter removed.
    An entry that is not a web address is dropped and counted (claimflow/sources.resolve_video)."""
    entries, invalid = [], 0
    for raw in listing["entries"]:
        try:
            source = resolve_video(raw["url"], f"{listing['collection']}:{raw['position'] or 'earlier'}")
        except SourceError as error:
            log.warning("%s", error)
            invalid += 1
            continue
        entries.append(dict(raw, vid=source.vid, url=source.url))
    selection = apply_filters(entries, filters)
    counts = selection.counts()
    # `listed`: what the site lists now; the entries it no longer lists go through the filters too.
    counts["listed"] = sum(1 for e in listing["entries"] if e.get("listed", True))
    counts["no_longer_listed"] = sum(1 for e in listing["entries"] if not e.get("listed", True))
    if invalid:
        counts["removed"]["not_a_video"] = invalid
    for reason, number in listing.get("skipped", {}).items():
        counts["removed"][reason] = number
    return {"collection": listing["collection"], "url": listing["url"], "kind": listing["kind"],
            "title": listing["title"], "listed_at": listing["listed_at"], "filters": filters.active(),
            "counts": counts,
            "listed": [{k: e.get(k) for k in ("vid", "entry_id", "position", "title", "upload_date")}
                       | {"listed": e.get("listed", True)} for e in entries],
            "entries": selection.kept}  # fmt: skip


# Entries left out for what they are, not by a filter: said in words.
_LEFT_OUT = {"no_media": "without media", "not_a_web_address": "not a web address"}


def describe_counts(cid: str, counts: dict[str, Any]) -> str:
    """'feed-x: 3 listed and 1 no longer listed, 2 kept (after removed 2; date unknown for 1 (kept))'."""
    gone = counts.get("no_longer_listed")
    text = f"{cid}: {counts['listed']} listed" + (f" and {gone} no longer listed" if gone else "")
    text += f", {counts['kept']} kept"
    notes = [f"{n} {_LEFT_OUT[name]}" if name in _LEFT_OUT else f"{name} removed {n}"
             for name, n in counts.get("removed", {}).items()]  # fmt: skip
    notes += [f"{what} unknown for {n} (kept)" for what, n in counts.get("unknown", {}).items()]
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return text


def read_selection(path: str | Path) -> list[Any]:
    """The kept entries of a selection file, as claimflow.batch.sources.Source (raises
    FileNotFoundError while the collection is not listed)."""
    doc = atomic.read_json(path)
    where = doc["collection"]
    return [Source(e["vid"], e["url"], e["url"], f"{where}:{e['position'] or 'earlier'}") for e in doc["entries"]]


def count_lines(collections: list[Collection], results: str | Path | layout.Results,
                missing: str = "not listed yet") -> list[str]:  # fmt: skip
    """A line per collection: its counts from the selection on disk, or `missing` after its name
    (`{cid}` in it is the collection's name)."""
    results = layout.Results.of(results)
    lines = []
    for collection in collections:
        path = results.collection(collection.cid, layout.SELECTION)
        try:
            lines.append(describe_counts(collection.cid, atomic.read_json(path)["counts"]))
        except (FileNotFoundError, ValueError, KeyError):
            lines.append(f"{collection.cid} is " + missing.replace("{cid}", collection.cid))
    return lines


def vids_on_disk(batch: Batch, results: str | Path | layout.Results) -> list[str]:
    """The batch's video ids as of now: the single ones, then each collection's selection
    already on disk (a collection not listed yet adds none). For commands outside a run."""
    results = layout.Results.of(results)
    vids = dict.fromkeys(s.vid for s in batch.videos)
    for collection in batch.collections:
        try:
            selected = read_selection(results.collection(collection.cid, layout.SELECTION))
            vids.update(dict.fromkeys(s.vid for s in selected))
        except FileNotFoundError:
            continue
    return list(vids)

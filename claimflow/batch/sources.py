"""Sources: turn the user's list of URLs, collections and local media paths into unique,
stable video ids (and collection ids: claimflow/batch/collections.py lists them in a job).

An id is `<extractor>-<id>` restricted to `[A-Za-z0-9_-]`, so it is safe as a directory
name and as a Snakemake wildcard value, and the same video written two ways (youtu.be and
youtube.com/watch, a path and its file:// URL) gets one id and is processed once. Ids are
computed offline from the URL alone, with yt-dlp's own URL patterns, because Snakemake
builds its DAG from them before any download runs.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from claimflow.batch.filters import Filters
from claimflow.batch.vocabulary import read_terms
from claimflow.download.outcomes import MEDIA_SUFFIX

ID_PATTERN = r"[A-Za-z0-9_-]+"
# A comment after an entry: `#` after a space or a tab (a `#` inside a URL is its fragment).
_COMMENT = re.compile(r"\s#")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# yt-dlp extractors that name collections, not single videos.
_COLLECTION_SUFFIXES = ("Tab", "Playlist", "Channel", "User", "Search", "Feed")


class SourceError(ValueError):
    """A source entry that cannot be processed; the message names the entry and the fix."""


# A web address that is a podcast feed, told by its path alone (no request at parse time): a
# file named *.rss/*.xml/*.atom, or a last path part "feed" / "rss" / "podcast".
_FEED_PATH = re.compile(r"(\.(rss|xml|atom)|/(feed|rss|podcast|feeds?/[^/]*))/?$", re.IGNORECASE)


def looks_like_feed(url: str) -> bool:
    """A feed by its path alone; a media file is never one, whatever folder it is in (a host's
    /feeds/episode-1.mp3)."""
    path = urlsplit(url).path
    return bool(_FEED_PATH.search(path)) and not MEDIA_SUFFIX.search(path)


@dataclass(frozen=True)
class Collection:
    cid: str  # [A-Za-z0-9_-], names its folder under results/collections/
    url: str
    kind: str  # the yt-dlp extractor that lists it (YoutubeTab, ...) or "feed"
    where: str  # the sources line or config entry it came from
    filters: Filters = field(default_factory=Filters)  # this collection's own, over the global ones
    vocabulary: tuple[str, ...] = ()  # terms for its videos, beside the batch's (claimflow/batch/vocabulary.py)


@dataclass(frozen=True)
class Source:
    vid: str
    url: str
    entry: str
    where: str

    def as_row(self) -> dict[str, str]:
        return {"vid": self.vid, "url": self.url, "entry": self.entry, "where": self.where}


def sanitize(text: str, limit: int = 64) -> str:
    """Reduce free text to the id alphabet, keeping it readable."""
    cleaned = _UNSAFE.sub("_", text).strip("_")
    return cleaned[:limit] or "x"


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


@functools.cache
def _extractors() -> tuple[type, ...]:
    from yt_dlp.extractor import gen_extractor_classes  # yt-dlp is heavy (half a second): only where a request is made

    return tuple(ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic")


@functools.lru_cache(maxsize=65536)
def _match_extractor(url: str) -> tuple[str, str] | None:
    for ie in _extractors():
        if ie.suitable(url):
            temp_id = ie.get_temp_id(url)
            if temp_id:
                return ie.ie_key(), str(temp_id)
            return ie.ie_key(), ""
    return None


def names_a_video(url: str) -> bool:
    """Whether a site extractor of yt-dlp (not the generic one) reads `url` as one video."""
    match = _match_extractor(url.split("#", 1)[0])
    return match is not None and bool(match[1]) and not match[0].endswith(_COLLECTION_SUFFIXES)


# A line like `www.youtube.com/watch?v=...` or `example.org/a.mp3`: a web address without its scheme.
_HOST_LIKE = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?/")


def _file_url(entry: str, base_dir: Path, where: str) -> tuple[str, Path]:
    path = Path(unquote(urlsplit(entry).path)) if entry.startswith("file:") else Path(entry).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    path = path.resolve()
    if not path.is_file():
        hint = f" If it is a web address, write it with its scheme: https://{entry}" if _HOST_LIKE.match(entry) else ""
        raise SourceError(
            f"{where}: local media file {entry!r} was not found (looked at {path}). "
            f"Fix the path, or write it relative to the sources file.{hint}"
        )
    return path.as_uri(), path


def _check_web_address(entry: str, where: str) -> None:
    parts = urlsplit(entry)
    problem = None
    if not parts.hostname:
        problem = "it has no host"
    elif any(c.isspace() for c in parts.netloc):
        problem = "its host holds a space"
    if problem:
        raise SourceError(f"{where}: {entry!r} is not a valid web address: {problem}. Write it as https://host/path.")


def _collection_id(key: str, temp_id: str, url: str) -> str:
    if key == "feed":
        stem = Path(unquote(urlsplit(url).path)).stem or (urlsplit(url).hostname or "feed")
        return f"feed-{sanitize(stem, 40)}-{_short_hash(url)}"
    return f"{sanitize(key.lower(), 24)}-{sanitize(temp_id or urlsplit(url).path)}"


_YOUTUBE_HOSTS = ("youtube.com", "youtube-nocookie.com")
# What YouTube adds to a video's address when it is opened from a playlist or a mix.
_PLAYLIST_CONTEXT = ("list", "index", "start_radio", "pp", "playnext")


def single_video(url: str) -> str:
    """A YouTube video's address opened from a playlist (`watch?v=ID&list=PL...&index=3`,
    `youtu.be/ID?list=...`) names that video, as yt-dlp's --no-playlist reads it: the playlist
    context is dropped. A playlist is taken only from a playlist address (`playlist?list=...`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {key for key, _ in query}
    is_video = ("v" in names and host.endswith(_YOUTUBE_HOSTS)) or (host == "youtu.be" and parts.path.strip("/"))
    if not is_video or not names & set(_PLAYLIST_CONTEXT):
        return url
    kept = [(key, value) for key, value in query if key not in _PLAYLIST_CONTEXT]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def resolve(entry: str, base_dir: Path, where: str, feeds: bool = True) -> Source | Collection:
    """Map one entry to a Source with its stable id, or to the Collection it names. `feeds`:
    whether an address may be taken for a feed by its path (a sources line, not a feed's item)."""
    scheme = urlsplit(entry).scheme.lower()
    if scheme in ("http", "https"):
        _check_web_address(entry, where)
        url = single_video(entry.split("#", 1)[0])
        match = _match_extractor(url)
        if match is not None:
            key, temp_id = match
            if key.endswith(_COLLECTION_SUFFIXES) or not temp_id:
                return Collection(_collection_id(key, temp_id, url), url, key, where)
            return Source(f"{sanitize(key.lower(), 24)}-{sanitize(temp_id)}", url, entry, where)
        if feeds and looks_like_feed(url):
            return Collection(_collection_id("feed", "", url), url, "feed", where)
        stem = Path(unquote(urlsplit(url).path)).stem
        return Source(f"generic-{sanitize(stem, 40)}-{_short_hash(url)}", url, entry, where)
    if scheme in ("", "file") or re.match(r"^[A-Za-z]:[\\/]", entry):
        url, path = _file_url(entry, base_dir, where)
        return Source(f"file-{sanitize(path.stem)}", url, entry, where)
    raise SourceError(f"{where}: {entry!r} has unsupported scheme {scheme!r}; use http(s)://, file:// or a path.")


def resolve_video(entry: str, where: str) -> Source:
    """A collection's entry as a video (by the same id rules as a sources line). Its address came
    from the network (a feed, a playlist), so it may only be a network address: never a path or a
    file: URL, which would make a remote listing read a file on this machine."""
    parts = urlsplit(entry)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{where}: {entry[:200]!r} is not a web address; an entry of a collection must be one")
    found = resolve(entry, Path("/nonexistent"), where, feeds=False)
    if isinstance(found, Collection):
        raise SourceError(f"{where}: {entry!r} is a collection inside a collection")
    return found


@dataclass(frozen=True)
class Batch:
    videos: list[Source]
    collections: list[Collection]


def parse_entries(
    entries: list[tuple[str, str]],
    base_dir: Path,
    collections: list[dict[str, Any]] | None = None,
    filters: Filters | None = None,
) -> Batch:
    """Resolve (entry, where) pairs, dropping duplicates and disambiguating id collisions.
    `collections` (the config's entries: url, name, filters) name collections and give them
    their own filters, over the global `filters`."""
    filters = filters or Filters()
    configured = {str(c["url"]).split("#", 1)[0]: (i, c) for i, c in enumerate(collections or [])}
    sources: list[Source] = []
    found: dict[str, Collection] = {}
    by_url: dict[str, Source] = {}
    by_vid: dict[str, Source] = {}
    listed = [(str(c["url"]), f"collections[{i}]") for i, c in enumerate(collections or [])]
    for entry, where in [*entries, *listed]:
        source = resolve(entry, base_dir, where)
        if isinstance(source, Collection):
            _add_collection(found, source, configured.get(source.url), filters)
            continue
        if source.url in by_url:
            continue
        clash = by_vid.get(source.vid)
        if clash is not None:
            if source.vid.startswith("file-") and clash.url != source.url:
                # Two different files with one name: keep both, told apart by their path.
                source = Source(f"{source.vid}-{_short_hash(source.url)}", source.url, entry, where)
            else:
                continue  # the same video under another URL form
        by_url[source.url] = source
        by_vid[source.vid] = source
        sources.append(source)
    for url, (index, _config) in configured.items():
        if url not in found:
            raise SourceError(f"collections[{index}]: {url!r} is a single video or file, not a collection; "
                              "list it in sources instead")  # fmt: skip
    return Batch(sources, list(found.values()))


def _add_collection(found: dict[str, Collection], collection: Collection,
                    configured: tuple[int, dict[str, Any]] | None, filters: Filters) -> None:  # fmt: skip
    if collection.url in found:
        return
    own = Filters()
    cid = collection.cid
    terms: tuple[str, ...] = ()
    if configured is not None:
        index, entry = configured
        try:
            own = Filters.from_config(entry.get("filters"))
            terms = read_terms(entry.get("vocabulary"), f"collections[{index}].vocabulary")
        except ValueError as error:
            raise SourceError(f"collections[{index}] ({collection.url}): {error}") from None
        if entry.get("name"):
            cid = sanitize(str(entry["name"]))
    taken = {c.cid for c in found.values()}
    if cid in taken:
        cid = f"{cid}-{_short_hash(collection.url)}"
    found[collection.url] = Collection(cid, collection.url, collection.kind, collection.where, filters.over(own), terms)


def read_batch(
    spec: str | list[str],
    cwd: Path | None = None,
    collections: list[dict[str, Any]] | None = None,
    filters: dict[str, Any] | None = None,
) -> Batch:
    """Read a sources file (one entry a line, `#` comments) or a list of entries, plus the
    config's `collections` and global `filters`."""
    cwd = cwd or Path.cwd()
    try:
        global_filters = Filters.from_config(filters)
    except ValueError as error:
        raise SourceError(str(error)) from None
    if isinstance(spec, list):
        entries = [(str(e).strip(), f"sources[{i}]") for i, e in enumerate(spec) if str(e).strip()]
        batch = parse_entries(entries, cwd, collections, global_filters)
        if not batch.videos and not batch.collections:
            raise SourceError("`sources:` is an empty list and no collection is configured: the batch has no "
                              "video. List URLs or media paths, or name a file of them.")  # fmt: skip
        return batch
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = cwd / path
    if not path.is_file():
        raise SourceError(
            f"sources file {spec!r} was not found (looked at {path}). "
            "Set `sources:` in your config to a file of URLs, one per line, or to a list."
        )
    entries = []
    # utf-8-sig: an editor's byte-order mark is not part of the first line's address.
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = _COMMENT.split(raw, maxsplit=1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line:
            entries.append((line, f"{path.name}:{number}"))
    batch = parse_entries(entries, path.parent, collections, global_filters)
    if not batch.videos and not batch.collections:
        raise SourceError(f"sources file {spec!r} names no video, channel, playlist or feed (looked at {path}: "
                          "every line is blank or a comment). Write one URL or media path a line, then run "
                          "again.")  # fmt: skip
    return batch


def read_sources(spec: str | list[str], cwd: Path | None = None) -> list[Source]:
    """The batch's single videos (collections are listed by jobs: claimflow/batch/collections.py)."""
    return read_batch(spec, cwd).videos


def batch_of(config: dict[str, Any], cwd: Path | None = None) -> Batch:
    return read_batch(config["sources"], cwd, config.get("collections"), config.get("filters"))

"""Reading the batch's result: full-text search over claims and quotes and over everything that
was said (every transcript segment), exports, and links to the moment. Read-only on the
database (never creates or migrates it)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    from claimflow.knowledge.embed import Embedder

YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}


class QueryError(ValueError):
    """A search the database cannot run; the message says why in one line."""


def youtube_id(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "youtu.be":
        return parts.path.strip("/").split("/")[0] or None
    if host in YOUTUBE_HOSTS:
        if parts.path == "/watch":
            return (parse_qs(parts.query).get("v") or [None])[0]
        segments = parts.path.strip("/").split("/")
        if len(segments) >= 2 and segments[0] in ("shorts", "live", "embed", "v"):
            return segments[1]
    return None


def moment(source: str | None, seconds: float | None) -> str:
    """Where to hear a claim: a YouTube link at the second, else the source and the time."""
    at = int(seconds or 0)
    vid = youtube_id(source)
    if vid:
        return f"https://youtu.be/{quote(vid, safe='')}?t={at}"
    place = source or "?"
    if place.startswith("file://"):
        place = urlsplit(place).path
    return f"{place} at {at // 3600}:{at % 3600 // 60:02d}:{at % 60:02d}"


def href(link: str, source: str | None, seconds: float | None) -> str | None:
    """The moment as an address a browser opens: the YouTube link, or the local file with a
    media fragment (`#t=12`, which the browser's player seeks to); None for anything else."""
    if link.startswith(("https://", "http://")):
        return link
    if source and source.startswith("file://"):
        return f"{source.split('#', 1)[0]}#t={int(seconds or 0)}"
    return None


@dataclass(frozen=True)
class ClaimRow:
    vid: str
    claim_id: str
    claim_text: str
    claim_type: str | None
    domain: str | None
    stance: str | None
    supported: bool
    decision: str | None
    tier: str | None
    score: float | None
    rank: int | None
    importance: float | None
    novelty: float | None
    confidence: float | None
    title: str | None
    source: str | None
    quote: str | None
    t0: float | None
    t1: float | None
    collections: str | None  # the channels, playlists and feeds the video belongs to, comma-separated
    link: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def href(self) -> str | None:
        return href(self.link, self.source, self.t0)


_SELECT = """
SELECT c.vid, c.claim_id, c.claim_text, c.claim_type, c.domain, c.stance, c.supported,
       e.decision, e.tier, e.score, e.rank, e.importance, e.novelty, e.confidence,
       v.title, v.source,
       (SELECT quote FROM evidence q WHERE q.vid = c.vid AND q.owner_kind = 'claim' AND q.owner_id = c.claim_id
        ORDER BY q.t0 LIMIT 1),
       (SELECT t0 FROM evidence q WHERE q.vid = c.vid AND q.owner_kind = 'claim' AND q.owner_id = c.claim_id
        ORDER BY q.t0 LIMIT 1),
       (SELECT t1 FROM evidence q WHERE q.vid = c.vid AND q.owner_kind = 'claim' AND q.owner_id = c.claim_id
        ORDER BY q.t0 LIMIT 1),
       {collections}
FROM claims c
LEFT JOIN evaluations e ON e.vid = c.vid AND e.claim_id = c.claim_id
LEFT JOIN videos v ON v.vid = c.vid
"""


_HOMES = "(SELECT GROUP_CONCAT(cid, ',') FROM collection_videos h WHERE h.vid = c.vid)"


def _has_collections(conn: sqlite3.Connection) -> bool:
    # A database written before collections existed (schema 4) has no collection_videos table:
    # read-only here, so not migrated; its videos simply belong to no collection.
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'collection_videos'").fetchone() is not None


def _select(conn: sqlite3.Connection) -> str:
    return _SELECT.format(collections=_HOMES if _has_collections(conn) else "NULL")


def connect(database: str | Path) -> sqlite3.Connection:
    if not Path(database).is_file():
        raise QueryError(f"no database at {database}: nothing is stored yet (run the workflow first)")
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    # Read through a memory map: a search by meaning reads every video's vectors (90 MB at
    # 7,000 videos) or every segment's code (134 MB), 1.7 x faster than through SQLite's page
    # cache. Pages past the map are read the slow way, and what was written last (the codes)
    # lies at the end of a 7,000-video file of 1.3 GB: the map covers 2 GB, SQLite's own limit.
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return conn


MMAP_BYTES = 1 << 31


def _row(found: tuple[Any, ...]) -> ClaimRow:
    values = list(found)
    values[6] = bool(values[6])
    return ClaimRow(*values, link=moment(values[15], values[17]))


def _dates(since: str | None, until: str | None, video: str = "v") -> tuple[list[str], list[Any]]:
    """Upload dates from `since` to `until` (YYYYMMDD, as yt-dlp gives them; both included); a
    video with no known date is left out once either is given."""
    where, args = [], []
    if since:
        where.append(f"{video}.upload_date >= ?")
        args.append(since)
    if until:
        where.append(f"{video}.upload_date <= ?")
        args.append(until)
    return where, args


def _filters(tier: list[str] | None, vid: list[str] | None, claim_type: list[str] | None,
             collection: list[str] | None = None, since: str | None = None,
             until: str | None = None) -> tuple[str, list[Any]]:  # fmt: skip
    where, args = _dates(since, until)
    for column, values in (("e.tier", tier), ("c.vid", vid), ("c.claim_type", claim_type)):
        if values:
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args += list(values)
    if tier:  # a tier ranks accepted claims; a rejected one's score places it in none
        where.append("e.decision = 'accept'")
    if collection:
        marks = ", ".join("?" for _ in collection)
        where.append(f"c.vid IN (SELECT vid FROM collection_videos WHERE cid IN ({marks}))")
        args += list(collection)
    return " AND ".join(where), args


def search(
    database: str | Path,
    text: str,
    *,
    tier: list[str] | None = None,
    vid: list[str] | None = None,
    claim_type: list[str] | None = None,
    collection: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
) -> list[ClaimRow]:
    """Claims whose text, or one of whose evidence quotes, matches the FTS5 query `text`; best
    matches first. `collection`: only videos of these collections (their names or ids);
    `since`, `until`: only videos uploaded then (YYYYMMDD)."""
    extra, args = _filters(tier, vid, claim_type, collection, since, until)
    # Of each index's matches (the filters' own), the latest RANKED are ranked (`said`); the
    # best `limit` are chosen before the rows are made (their quotes and collections are a
    # query each).
    joins = "WHERE "
    if extra:
        joins = ("JOIN claims c ON c.vid = f.vid AND c.claim_id = f.{id} LEFT JOIN evaluations e ON e.vid = c.vid "
                 f"AND e.claim_id = c.claim_id LEFT JOIN videos v ON v.vid = c.vid WHERE {extra} AND ")  # fmt: skip
    sql = f"""
    WITH hits AS (
        SELECT * FROM (SELECT f.vid, f.claim_id, bm25(claims_fts) AS rank FROM claims_fts f
                       {joins.format(id="claim_id")} claims_fts MATCH ? ORDER BY f.rowid DESC LIMIT {RANKED})
        UNION ALL
        SELECT * FROM (SELECT f.vid, f.owner_id, bm25(quotes_fts) + 1.0 FROM quotes_fts f
                       {joins.format(id="owner_id")} quotes_fts MATCH ? ORDER BY f.rowid DESC LIMIT {RANKED})
    ), best AS (
        SELECT h.vid, h.claim_id, MIN(h.rank) AS rank, e.score FROM hits h
        LEFT JOIN evaluations e ON e.vid = h.vid AND e.claim_id = h.claim_id
        GROUP BY h.vid, h.claim_id ORDER BY rank, e.score DESC, h.vid, h.claim_id LIMIT ?
    )
    {{select}}
    JOIN best b ON b.vid = c.vid AND b.claim_id = c.claim_id
    ORDER BY b.rank, b.score DESC, c.vid, c.claim_id
    """
    conn = connect(database)
    try:
        if collection and not _has_collections(conn):
            raise QueryError(f"{database} holds no collections (written before claimflow listed any)")
        rows = conn.execute(sql.replace("{select}", _select(conn)), [*args, text, *args, text, limit]).fetchall()
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "no such table" in message:
            raise QueryError(f"{database} has no full-text index: it was not written by claimflow's store") from None
        _syntax_error(text, exc)
        raise
    finally:
        conn.close()
    return [_row(r) for r in rows]


# Full-text matches ranked per search, the latest stored: ranking costs about 5 us a match.
RANKED = 10_000


def ranked_all(database: str | Path, table: str, text: str) -> bool:
    """Whether a search of `text` in `table` (segments_fts, claims_fts, quotes_fts) ranked every
    match, rather than the latest RANKED (a count of matches, which is fast)."""
    conn = connect(database)
    try:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT {RANKED + 1})"
        return conn.execute(sql, (text,)).fetchone()[0] <= RANKED
    except sqlite3.OperationalError:
        return True  # the search itself names what is wrong
    finally:
        conn.close()


@dataclass(frozen=True)
class SaidRow:
    """A transcript segment that matched a search of what was said, with its moment."""

    vid: str
    segment_id: int
    start: float
    end: float
    text: str
    title: str | None
    source: str | None
    collections: str | None
    link: str

    @property
    def href(self) -> str | None:
        return href(self.link, self.source, self.start)


def _videos_where(column: str, vid: list[str] | None, collection: list[str] | None, since: str | None,
                  until: str | None) -> tuple[list[str], list[Any]]:  # fmt: skip
    """The conditions (on `column`, a video id, and `v`, its videos row) that keep the videos a
    search is filtered to: by id, collection and upload date."""
    where, args = _dates(since, until)
    if vid:
        where.append(f"{column} IN ({', '.join('?' for _ in vid)})")
        args += list(vid)
    if collection:
        where.append(
            f"{column} IN (SELECT vid FROM collection_videos WHERE cid IN ({', '.join('?' for _ in collection)}))"
        )
        args += list(collection)
    return where, args


def said(database: str | Path, text: str, *, vid: list[str] | None = None, collection: list[str] | None = None,
         since: str | None = None, until: str | None = None, limit: int = 20) -> list[SaidRow]:  # fmt: skip
    """Transcript segments matching the FTS5 query `text`, best first: what was said anywhere in
    the batch, in a claim or not."""
    where, args = _videos_where("s.vid", vid, collection, since, until)
    conn = connect(database)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'segments_fts'").fetchone():
            raise QueryError(f"{database} has no index of what was said yet (schema 7): the next run's first store "
                             "job adds it, or run `claimflow search` on claims meanwhile")  # fmt: skip
        if collection and not _has_collections(conn):
            raise QueryError(f"{database} holds no collections (written before claimflow listed any)")
        homes = _HOMES.replace("c.vid", "s.vid") if _has_collections(conn) else "NULL"
        # The matches ranked are the latest RANKED stored (a word said in a sixth of 4.2 million
        # segments costs a second to rank in full): the rest of the batch is reached by a
        # phrase, a filter or a rarer word (`ranked_all` says when the bound was met).
        sql = f"""
        WITH found AS (
            SELECT f.rowid AS id, bm25(segments_fts) AS rank FROM segments_fts f
            {"JOIN segments s ON s.rowid = f.rowid LEFT JOIN videos v ON v.vid = s.vid" if where else ""}
            WHERE segments_fts MATCH ? {"AND " + " AND ".join(where) if where else ""}
            ORDER BY f.rowid DESC LIMIT {RANKED}
        )
        SELECT s.vid, s.segment_id, s.start, s.end, s.text, v.title, v.source, {homes}
        FROM found JOIN segments s ON s.rowid = found.id LEFT JOIN videos v ON v.vid = s.vid
        ORDER BY found.rank, s.vid, s.segment_id LIMIT ?
        """
        rows = conn.execute(sql, [text, *args, limit]).fetchall()
    except sqlite3.OperationalError as exc:
        _syntax_error(text, exc)
        raise
    finally:
        conn.close()
    return [SaidRow(*r, link=moment(r[6], r[2])) for r in rows]


def said_by_meaning(database: str | Path, text: str, coder: Embedder, *, vid: list[str] | None = None,
                    collection: list[str] | None = None, since: str | None = None, until: str | None = None,
                    limit: int = 20) -> list[tuple[SaidRow, float]]:  # fmt: skip
    """The transcript segments nearest `text` in meaning (claimflow/store/said.py: the segments
    coded so far), each with its cosine similarity; the nearest first."""
    from claimflow.store import said  # the search by meaning alone needs numpy

    where, args = _videos_where("v.vid", vid, collection, since, until)
    conn = connect(database)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'said_codes'").fetchone() is None:
            raise QueryError(f"{database} has no codes of what was said yet (schema 14): `claimflow search --said "
                             "--meaning` adds them when it may write the database")  # fmt: skip
        if collection and not _has_collections(conn):
            raise QueryError(f"{database} holds no collections (written before claimflow listed any)")
        allowed = ({row[0] for row in conn.execute(f"SELECT v.vid FROM videos v WHERE {' AND '.join(where)}", args)}
                   if where else None)  # fmt: skip
        found = said.nearest(conn, coder, text, limit, allowed)
        homes = _HOMES.replace("c.vid", "s.vid") if _has_collections(conn) else "NULL"
        sql = f"""SELECT s.vid, s.segment_id, s.start, s.end, s.text, v.title, v.source, {homes}
                  FROM segments s LEFT JOIN videos v ON v.vid = s.vid WHERE s.vid = ? AND s.segment_id = ?"""
        rows = [(conn.execute(sql, (hit.vid, hit.segment_id)).fetchone(), hit.similarity) for hit in found]
    finally:
        conn.close()
    return [(SaidRow(*r, link=moment(r[6], r[2])), similarity) for r, similarity in rows if r is not None]


@dataclass(frozen=True)
class SummaryRow:
    """A video's summary and key points (claimflow/knowledge/summarize.py), with its video."""

    vid: str
    summary: str
    key_points: tuple[str, ...]
    model: str | None
    title: str | None
    source: str | None
    upload_date: str | None


def _has_summaries(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'video_summaries'").fetchone() is not None


def summaries(database: str | Path, vids: list[str] | None = None, *, text: str | None = None,
              collection: list[str] | None = None, since: str | None = None, until: str | None = None,
              limit: int | None = None) -> list[SummaryRow]:  # fmt: skip
    """The videos' summaries: those matching the FTS5 query `text` best first, or (no text)
    every one by video id; filtered by video, collection and upload date as the other searches."""
    where, args = _videos_where("m.vid", vids, collection, since, until)
    conn = connect(database)
    try:
        if not _has_summaries(conn):
            return []
        if collection and not _has_collections(conn):
            raise QueryError(f"{database} holds no collections (written before claimflow listed any)")
        head = "SELECT m.vid, m.summary, m.key_points, m.model, v.title, v.source, v.upload_date FROM "
        if text:
            sql = (head + "summaries_fts f JOIN video_summaries m ON m.vid = f.vid LEFT JOIN videos v ON v.vid = m.vid "
                   "WHERE summaries_fts MATCH ?" + "".join(f" AND {w}" for w in where) +
                   " ORDER BY bm25(summaries_fts), m.vid")  # fmt: skip
            args = [text, *args]
        else:
            sql = (head + "video_summaries m LEFT JOIN videos v ON v.vid = m.vid" +
                   (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY m.vid")  # fmt: skip
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if text:
            _syntax_error(text, exc)
        raise
    finally:
        conn.close()
    return [SummaryRow(r[0], r[1], tuple(json.loads(r[2] or "[]")), *r[3:]) for r in rows]


def _syntax_error(text: str, exc: sqlite3.OperationalError) -> None:
    """FTS5 refusing the query's syntax, as one line naming the fix (a lock is raised as it is)."""
    message = str(exc)
    if "locked" not in message and "no such table" not in message:
        raise QueryError(
            f"the search {text!r} is not valid full-text syntax ({message}); put phrases in double "
            'quotes ("rate limit"), use AND/OR/NOT between words, or search for plain words'
        ) from None


def claims(database: str | Path) -> Iterator[ClaimRow]:
    """Every stored claim with its evaluation and first evidence quote, by video and rank."""
    conn = connect(database)
    try:
        order = " ORDER BY c.vid, e.rank IS NULL, e.rank, c.claim_id"
        yield from (_row(r) for r in conn.execute(_select(conn) + order))
    finally:
        conn.close()


def evidence(database: str | Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    conn = connect(database)
    try:
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for vid, owner, quote_text, t0, t1 in conn.execute(
            "SELECT vid, owner_id, quote, t0, t1 FROM evidence WHERE owner_kind = 'claim' ORDER BY vid, owner_id, t0"
        ):
            found.setdefault((vid, owner), []).append({"quote": quote_text, "t0": t0, "t1": t1})
        return found
    finally:
        conn.close()


EXPORT_FORMATS = ("jsonl", "csv")


def export(database: str | Path, fmt: str) -> Iterator[str]:
    """Claims, one row each, with their evaluation and evidence: JSON lines (all evidence as a
    list) or CSV (the first quote and its time, plus the number of quotes)."""
    spans = evidence(database)
    if fmt == "jsonl":
        for row in claims(database):
            doc = row.as_dict()
            doc["evidence"] = spans.get((row.vid, row.claim_id), [])
            yield json.dumps(doc, ensure_ascii=False) + "\n"
        return
    if fmt != "csv":
        raise QueryError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    columns = [*ClaimRow.__dataclass_fields__, "evidence_count"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for row in claims(database):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({**row.as_dict(), "evidence_count": len(spans.get((row.vid, row.claim_id), []))})
        yield buffer.getvalue()


@dataclass(frozen=True)
class ClusterMember:
    vid: str
    claim_id: str
    claim_text: str
    score: float | None
    tier: str | None
    title: str | None
    channel: str | None
    upload_date: str | None
    link: str
    source: str | None = None
    t0: float | None = None

    @property
    def href(self) -> str | None:
        return href(self.link, self.source, self.t0)


@dataclass(frozen=True)
class ClusterRow:
    """A claim made in several videos: its best-scored wording, where and when it was made."""

    cluster: str
    canonical: str  # the best-scored member's text (ties: the smallest key)
    videos: int
    channels: int
    first: str | None  # the earliest upload date among its videos (YYYYMMDD, as yt-dlp gives it)
    last: str | None
    members: tuple[ClusterMember, ...]


_CLUSTER_MEMBERS = """
SELECT k.cluster, c.vid, c.claim_id, c.claim_text, e.score, e.tier, v.title, v.channel, v.upload_date, v.source,
       (SELECT MIN(t0) FROM evidence x WHERE x.vid = c.vid AND x.owner_kind = 'claim' AND x.owner_id = c.claim_id)
FROM claim_clusters k
JOIN claims c ON k.claim_key = c.vid || '/' || c.claim_id
LEFT JOIN evaluations e ON e.vid = c.vid AND e.claim_id = c.claim_id
LEFT JOIN videos v ON v.vid = c.vid
WHERE k.cluster IN ({marks})
ORDER BY k.cluster, c.vid, c.claim_id
"""


def clusters(database: str | Path, *, min_videos: int = 2, limit: int | None = 20) -> list[ClusterRow]:
    """The claims made in at least `min_videos` videos, the most videos first (then the best
    score, then the name): each with its members. Empty for a database linked by no link job."""
    conn = connect(database)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'claim_clusters'").fetchone() is None:
            return []
        largest = conn.execute(
            "SELECT cluster, COUNT(DISTINCT vid) AS n FROM claim_clusters GROUP BY cluster HAVING n >= ? "
            "ORDER BY n DESC, cluster LIMIT ?", (min_videos, -1 if limit is None else limit)).fetchall()  # fmt: skip
        names = [name for name, _ in largest]
        members: dict[str, list[ClusterMember]] = {name: [] for name in names}
        if names:
            query = _CLUSTER_MEMBERS.format(marks=",".join("?" * len(names)))
            for cluster, vid, cid, text, score, tier, title, channel, date, source, t0 in conn.execute(query, names):
                members[cluster].append(ClusterMember(vid, cid, text, score, tier, title, channel, date,
                                                      moment(source, t0), source, t0))  # fmt: skip
    finally:
        conn.close()
    found = []
    for name in names:
        rows = members[name]
        if not rows:
            continue
        best = min(rows, key=lambda m: (-(m.score or 0.0), m.vid, m.claim_id))
        dates = sorted(m.upload_date for m in rows if m.upload_date)
        found.append(ClusterRow(name, best.claim_text, len({m.vid for m in rows}),
                                len({m.channel for m in rows if m.channel}), dates[0] if dates else None,
                                dates[-1] if dates else None, tuple(rows)))  # fmt: skip
    found.sort(key=lambda c: (-c.videos, -max((m.score or 0.0) for m in c.members), c.cluster))
    return found


# How many of the nearest claims are read (with the filters) before a search by meaning gives up
# on filling its limit: a filter that keeps almost nothing costs this many small queries, no more.
MEANING_CANDIDATES = 2000


def meaning(
    database: str | Path,
    text: str,
    embedder: Embedder,
    *,
    tier: list[str] | None = None,
    vid: list[str] | None = None,
    claim_type: list[str] | None = None,
    collection: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
) -> list[tuple[ClaimRow, float]]:
    """The linked claims (the accepted ones, embedded by the link jobs) nearest in meaning to
    `text`, embedded by `embedder` (the batch's own model: `link.embedding`), each with its
    cosine similarity; the nearest first. QueryError for a database with no claim linked."""
    from claimflow.knowledge import embed  # the search by meaning alone needs numpy
    from claimflow.store import clusters as linked

    extra, args = _filters(tier, vid, claim_type, collection, since, until)
    conn = connect(database)
    try:
        unlinked = QueryError(f"{database} has no claim linked yet, so nothing to search by meaning: run the "
                              "workflow (its link jobs embed each stored video's accepted claims; link.enabled), "
                              "or search by words without --meaning")  # fmt: skip
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'video_vectors'").fetchone() is None:
            raise unlinked
        if collection and not _has_collections(conn):
            raise QueryError(f"{database} holds no collections (written before claimflow listed any)")
        query = embed.quantize(embedder.embed([text]))  # first: an endpoint's model knows its size from it
        sql = _select(conn) + " WHERE c.vid = ? AND c.claim_id = ?" + (" AND " + extra if extra else "")
        found, linked_any = [], False
        for key, units in linked.nearest(conn, embedder.model.identity, query, MEANING_CANDIDATES):
            linked_any = True
            owner, claim_id = key.split("/", 1)
            hit = conn.execute(sql, [owner, claim_id, *args]).fetchone()
            if hit is not None:
                found.append((_row(hit), float(embed.cosine(units))))
                if len(found) == limit:
                    break
        if not linked_any:
            raise unlinked
    finally:
        conn.close()
    return found


@dataclass(frozen=True)
class CatalogueRow:
    """A person (or a term) of the whole batch: every spelling seen as one entry."""

    key: str  # the normalized name: stable across runs
    name: str  # the name shown
    aliases: tuple[str, ...]  # every spelling the videos used
    vids: tuple[str, ...]  # the videos that mention it
    mentions: int
    detail: str | None  # a person's most given role, a term's most given definition
    claims: tuple[ClaimRow, ...]  # claims that name it (a person: by a full name anywhere, the surname in their videos)


def _entity_mentions(conn: sqlite3.Connection, people: bool) -> tuple[list, dict[tuple[str, str], str]]:
    from claimflow.knowledge.catalogue import Mention  # rapidfuzz and yaml: only for the catalogue

    if people:
        sql = "SELECT vid, item_id, name, role FROM people WHERE COALESCE(entity_type, 'person') = 'person'"
    else:
        sql = "SELECT vid, item_id, term, definition FROM jargon"
    rows = conn.execute(sql).fetchall()
    mentions = [Mention(vid, name or "", item) for vid, item, name, _ in rows if name]
    return mentions, {(vid, item): detail for vid, item, _, detail in rows if detail}


def _naming_claims(conn: sqlite3.Connection, forms: set[str], own: list[str], surname: str | None,
                   limit: int) -> tuple[ClaimRow, ...]:  # fmt: skip
    """The accepted claims that name an entry: one of its full forms (words in order) anywhere,
    or its surname alone within its own videos; the best scored first."""
    if limit <= 0 or not forms:
        return ()
    phrases = " OR ".join('"' + f.replace('"', "") + '"' for f in sorted(forms))
    hits = "SELECT vid, claim_id FROM claims_fts WHERE claims_fts MATCH ?"
    args: list[Any] = [phrases]
    if surname and own:
        marks = ",".join("?" * len(own))
        hits += f" UNION SELECT vid, claim_id FROM claims_fts WHERE claims_fts MATCH ? AND vid IN ({marks})"
        args += ['"' + surname + '"', *own]
    sql = (f"WITH hits AS ({hits}) " + _select(conn) + " JOIN hits h ON h.vid = c.vid AND h.claim_id = c.claim_id "
           "WHERE e.decision = 'accept' ORDER BY e.score DESC, c.vid, c.claim_id LIMIT ?")  # fmt: skip
    return tuple(_row(r) for r in conn.execute(sql, [*args, limit]))


def catalogue(
    database: str | Path,
    *,
    people: bool = True,
    corrections: Any = None,
    name: str | None = None,
    limit: int | None = 20,
    claims_per_entry: int = 5,
) -> list[CatalogueRow]:
    """The batch's people (or, `people=False`, its terms), the most mentioned first, made from
    every stored video's mentions and the user's `corrections` (claimflow/knowledge/catalogue.py)
    at each read, so it is always the batch's as stored and a correction holds through every
    rebuild. `name`: only the entries one of whose spellings contains it (case and titles aside)."""
    from collections import Counter  # (as _entity_mentions)

    from claimflow.knowledge import catalogue as made

    conn = connect(database)
    try:
        mentions, details = _entity_mentions(conn, people)
        entries = made.build(mentions, corrections or made.Corrections(), people=people)
        entries.sort(key=lambda e: (-len(e.videos), -len(e.mentions), e.key))  # the most discussed across videos
        if name:
            wanted = made.normalize(name) if people else name.lower()
            entries = [e for e in entries if any(wanted in (made.normalize(a) if people else a.lower())
                                                 for a in e.aliases)]  # fmt: skip
        found = []
        for entry in entries[:limit]:  # None: all
            forms = {made.normalize(a) if people else " ".join(a.lower().split()) for a in entry.aliases}
            full = {f for f in forms if len(f.split()) > 1} if people else forms
            surname = entry.key.split()[-1] if people and entry.key else None
            said = Counter(details[m.vid, m.item_id] for m in entry.mentions if (m.vid, m.item_id) in details)
            detail = sorted(said.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if said else None
            claims = _naming_claims(conn, full or forms, entry.videos, surname, claims_per_entry)
            found.append(CatalogueRow(entry.key, entry.name, tuple(entry.aliases), tuple(entry.videos),
                                      len(entry.mentions), detail, claims))  # fmt: skip
    finally:
        conn.close()
    return found


KNOWLEDGE = ("clusters", "people", "terms", "summaries")  # what `claimflow export --what` adds to the claims


def export_knowledge(database: str | Path, what: str, fmt: str, corrections: Any = None) -> Iterator[str]:
    """The batch's clusters (every claim made in two videos or more, with its members), people or
    terms (every entry, with its spellings and videos), or the videos' summaries: JSON lines, one
    entry each with all its parts, or CSV, one row per cluster member (clusters) or per entry
    (people, terms, summaries; lists joined by "; ")."""
    if what not in KNOWLEDGE:
        raise QueryError(f"unknown export {what!r}; use claims or one of {', '.join(KNOWLEDGE)}")
    if fmt not in EXPORT_FORMATS:
        raise QueryError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if what == "clusters":
        found: list[Any] = clusters(database, min_videos=2, limit=None)
    elif what == "summaries":
        found = summaries(database)
    else:
        found = catalogue(database, people=what == "people", corrections=corrections, limit=None, claims_per_entry=0)
    if fmt == "jsonl":
        for row in found:
            doc = asdict(row)
            if what not in ("clusters", "summaries"):
                doc.pop("claims")
            yield json.dumps(doc, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    if what == "clusters":
        member = [f for f in ClusterMember.__dataclass_fields__ if f not in ("source", "t0")]
        yield line(["cluster", "canonical", "videos", "channels", "first", "last", *member])
        for c in found:
            for m in c.members:
                yield line([c.cluster, c.canonical, c.videos, c.channels, c.first, c.last,
                            *(getattr(m, f) for f in member)])  # fmt: skip
        return
    if what == "summaries":
        yield line(["vid", "title", "upload_date", "summary", "key_points", "model"])
        for m in found:
            yield line([m.vid, m.title or "", m.upload_date or "", m.summary, "; ".join(m.key_points), m.model or ""])
        return
    yield line(["key", "name", "aliases", "videos", "vids", "mentions", "detail"])
    for e in found:
        yield line([e.key, e.name, "; ".join(e.aliases), len(e.vids), "; ".join(e.vids), e.mentions, e.detail or ""])


@dataclass(frozen=True)
class PairRow:
    """Two claims of different videos as the LLM judged them, each with its quote and moment."""

    relation: str  # contradicts | supports (same and unrelated are not shown)
    reason: str | None
    similarity: float
    first: ClaimRow
    second: ClaimRow


def judged_pairs(database: str | Path, relation: str = "contradicts", *, limit: int | None = 20) -> list[PairRow]:
    """The candidate pairs the LLM judged `relation` (contradicts: the batch's contested claims),
    the most alike first. Empty for a database whose pairs no judge job has judged."""
    conn = connect(database)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'claim_judgements'").fetchone() is None:
            return []
        rows = conn.execute(
            "SELECT j.a, j.b, j.reason, p.similarity FROM claim_judgements j JOIN claim_pairs p ON p.a = j.a "
            "AND p.b = j.b WHERE j.relation = ? ORDER BY p.similarity DESC, j.a, j.b LIMIT ?",
            (relation, -1 if limit is None else limit)).fetchall()  # fmt: skip
        sql = _select(conn) + " WHERE c.vid = ? AND c.claim_id = ?"
        found = []
        for a, b, reason, similarity in rows:
            sides = [conn.execute(sql, key.split("/", 1)).fetchone() for key in (a, b)]
            if all(sides):
                found.append(PairRow(relation, reason, float(similarity), _row(sides[0]), _row(sides[1])))
    finally:
        conn.close()
    return found

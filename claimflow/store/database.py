"""The store stage: one video's results upserted into SQLite, queryable while the batch runs.

The database runs in WAL mode, so readers (a user's queries, the status command) never
block the writers, and store jobs wait for each other through SQLite's busy timeout. A
video's rows are replaced in one transaction: a rerun replaces, never duplicates, and a
killed store leaves the previous rows intact. FTS5 indexes claims, evidence quotes, segments
and summaries, each attached to its table.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claimflow.download import roads

# The database's schema version is SQLite's own `PRAGMA user_version`. MIGRATIONS[n] takes a
# database from version n to n + 1; each runs in its own immediate transaction, so concurrent
# store jobs agree on one upgrade, and a killed one leaves the previous version intact.
BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    vid TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT, title TEXT, channel TEXT,
    duration REAL, upload_date TEXT, source TEXT, account TEXT, language TEXT,
    transcript_source TEXT, mine_prompt TEXT, evaluate_prompt TEXT, llm_model TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, stored_at REAL
);
CREATE TABLE IF NOT EXISTS segments (
    vid TEXT NOT NULL, segment_id INTEGER NOT NULL, start REAL, end REAL, text TEXT,
    PRIMARY KEY (vid, segment_id)
);
CREATE TABLE IF NOT EXISTS claims (
    vid TEXT NOT NULL, claim_id TEXT NOT NULL, claim_text TEXT NOT NULL, claim_type TEXT,
    domain TEXT, stance TEXT, supported INTEGER, window INTEGER,
    PRIMARY KEY (vid, claim_id)
);
CREATE TABLE IF NOT EXISTS evaluations (
    vid TEXT NOT NULL, claim_id TEXT NOT NULL, decision TEXT, merge_with TEXT,
    importance REAL, novelty REAL, confidence REAL, dimensions TEXT,
    score REAL, tier TEXT, rank INTEGER,
    PRIMARY KEY (vid, claim_id)
);
CREATE TABLE IF NOT EXISTS jargon (
    vid TEXT NOT NULL, item_id TEXT NOT NULL, term TEXT, definition TEXT, PRIMARY KEY (vid, item_id)
);
CREATE TABLE IF NOT EXISTS people (
    vid TEXT NOT NULL, item_id TEXT NOT NULL, name TEXT, entity_type TEXT, role TEXT, PRIMARY KEY (vid, item_id)
);
CREATE TABLE IF NOT EXISTS mental_models (
    vid TEXT NOT NULL, item_id TEXT NOT NULL, name TEXT, definition TEXT, PRIMARY KEY (vid, item_id)
);
CREATE TABLE IF NOT EXISTS evidence (
    vid TEXT NOT NULL, owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL, segment_id INTEGER,
    quote TEXT NOT NULL, t0 REAL, t1 REAL, match TEXT, score REAL
);
CREATE INDEX IF NOT EXISTS evidence_owner ON evidence (vid, owner_kind, owner_id);
CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts USING fts5(claim_text, vid UNINDEXED, claim_id UNINDEXED);
CREATE VIRTUAL TABLE IF NOT EXISTS quotes_fts USING fts5(quote, vid UNINDEXED, owner_id UNINDEXED);
"""


COLLECTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    cid TEXT PRIMARY KEY, url TEXT, kind TEXT, title TEXT, listed_at REAL, filters TEXT, counts TEXT);
CREATE TABLE IF NOT EXISTS collection_videos (
    cid TEXT, vid TEXT, entry_id TEXT, position INTEGER, title TEXT, upload_date TEXT,
    listed INTEGER, kept INTEGER, first_listed_at REAL, last_listed_at REAL, PRIMARY KEY (cid, vid));
CREATE INDEX IF NOT EXISTS collection_videos_vid ON collection_videos (vid);
"""

GATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS caption_gates (
    channel TEXT PRIMARY KEY, decision TEXT, median_wer REAL, max_wer REAL, sample TEXT, started REAL,
    decided REAL)
"""


# Claims linked across videos (claimflow/store/clusters.py): the index, the clusters, the pairs.
# The table as migration 8 made it; migration 10 adds `model`.
LINK_SCHEMA = """
CREATE TABLE IF NOT EXISTS video_vectors (  -- the index: one row per video, read whole by each link
    vid TEXT PRIMARY KEY,
    claim_ids TEXT NOT NULL,             -- JSON list, sorted: the rows of `vectors` in order
    claims INTEGER NOT NULL,
    vectors BLOB NOT NULL                -- int8, claims x dim (claimflow/knowledge/embed.py quantize)
);
CREATE TABLE IF NOT EXISTS claim_clusters (
    claim_key TEXT PRIMARY KEY,          -- <vid>/<claim id>
    vid TEXT NOT NULL,
    cluster TEXT NOT NULL                -- the smallest member key
);
CREATE INDEX IF NOT EXISTS claim_clusters_cluster ON claim_clusters(cluster);
CREATE INDEX IF NOT EXISTS claim_clusters_vid ON claim_clusters(vid);
CREATE TABLE IF NOT EXISTS claim_pairs (  -- near but not the same: for the LLM to judge
    a TEXT NOT NULL, b TEXT NOT NULL,     -- a < b
    similarity REAL NOT NULL,
    PRIMARY KEY (a, b)
);
"""

JUDGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS claim_judgements (  -- a candidate pair as the LLM judged it
    a TEXT NOT NULL, b TEXT NOT NULL,     -- a < b, as in claim_pairs
    relation TEXT NOT NULL,               -- same | supports | contradicts | unrelated
    reason TEXT,
    model TEXT,                           -- the provider and model that judged
    PRIMARY KEY (a, b)
);
"""


# A summary per video (claimflow/knowledge/summarize.py), and its words in full-text search.
# What was said, searchable by meaning (claimflow/store/said.py): each video's segments as sign
# codes, filled by the search or the summary job from the stored segments, dropped when the
# video is stored again.
SAID_SCHEMA = """
CREATE TABLE IF NOT EXISTS said_codes (
    vid TEXT PRIMARY KEY,
    model TEXT NOT NULL,                 -- the model the codes came from (said.CODES)
    segments INTEGER NOT NULL,
    segment_ids BLOB NOT NULL,           -- int32, the rows of `codes` in order
    codes BLOB NOT NULL                  -- segments x 32 bytes (claimflow/knowledge/embed.py signs)
)
"""

SUMMARY_SCHEMA = """
CREATE TABLE IF NOT EXISTS video_summaries (
    vid TEXT PRIMARY KEY,
    summary TEXT NOT NULL,
    key_points TEXT NOT NULL,             -- JSON list of strings, the most important first
    model TEXT,                           -- the provider and model that wrote it
    segments_sent INTEGER,                -- of the transcript's segments, those the request carried
    segments INTEGER,
    summarized_at REAL
);
CREATE VIRTUAL TABLE IF NOT EXISTS summaries_fts USING fts5(text, vid UNINDEXED);
"""


# One statement each (a trigger's body has semicolons of its own).
SEGMENTS_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS segments_fts USING fts5(text, content='segments', content_rowid='rowid')",
    """CREATE TRIGGER IF NOT EXISTS segments_fts_insert AFTER INSERT ON segments BEGIN
       INSERT INTO segments_fts (rowid, text) VALUES (new.rowid, new.text); END""",
    """CREATE TRIGGER IF NOT EXISTS segments_fts_delete AFTER DELETE ON segments BEGIN
       INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END""",
    """CREATE TRIGGER IF NOT EXISTS segments_fts_update AFTER UPDATE ON segments BEGIN
       INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
       INSERT INTO segments_fts (rowid, text) VALUES (new.rowid, new.text); END""",
    "INSERT INTO segments_fts (segments_fts) VALUES ('rebuild')",
)


# Schema 15: a database people can read, in Datasette or any SQLite browser. The tables a
# video's rows fill, rebuilt with foreign keys (declared for readers, not enforced: a store
# job replaces a video's rows in one transaction, deleting before inserting) and `evidence`
# with a key of its own; their rowids are kept, so segments_fts stays valid as it is.
READABLE_TABLES = {
    "segments": """CREATE TABLE segments (
        vid TEXT NOT NULL REFERENCES videos (vid), segment_id INTEGER NOT NULL, start REAL, end REAL, text TEXT,
        PRIMARY KEY (vid, segment_id))""",
    "claims": """CREATE TABLE claims (
        vid TEXT NOT NULL REFERENCES videos (vid), claim_id TEXT NOT NULL, claim_text TEXT NOT NULL,
        claim_type TEXT, domain TEXT, stance TEXT, supported INTEGER, window INTEGER,
        PRIMARY KEY (vid, claim_id))""",
    "evaluations": """CREATE TABLE evaluations (
        vid TEXT NOT NULL REFERENCES videos (vid), claim_id TEXT NOT NULL, decision TEXT, merge_with TEXT,
        importance REAL, novelty REAL, confidence REAL, dimensions TEXT, score REAL, tier TEXT, rank INTEGER,
        PRIMARY KEY (vid, claim_id), FOREIGN KEY (vid, claim_id) REFERENCES claims (vid, claim_id))""",
    "jargon": """CREATE TABLE jargon (
        vid TEXT NOT NULL REFERENCES videos (vid), item_id TEXT NOT NULL, term TEXT, definition TEXT,
        PRIMARY KEY (vid, item_id))""",
    "people": """CREATE TABLE people (
        vid TEXT NOT NULL REFERENCES videos (vid), item_id TEXT NOT NULL, name TEXT, entity_type TEXT, role TEXT,
        PRIMARY KEY (vid, item_id))""",
    "mental_models": """CREATE TABLE mental_models (
        vid TEXT NOT NULL REFERENCES videos (vid), item_id TEXT NOT NULL, name TEXT, definition TEXT,
        PRIMARY KEY (vid, item_id))""",
    "evidence": """CREATE TABLE evidence (
        evidence_id INTEGER PRIMARY KEY, vid TEXT NOT NULL REFERENCES videos (vid), owner_kind TEXT NOT NULL,
        owner_id TEXT NOT NULL, segment_id INTEGER, quote TEXT NOT NULL, t0 REAL, t1 REAL, match TEXT, score REAL)""",
    "video_summaries": """CREATE TABLE video_summaries (
        vid TEXT PRIMARY KEY REFERENCES videos (vid), summary TEXT NOT NULL, key_points TEXT NOT NULL, model TEXT,
        segments_sent INTEGER, segments INTEGER, summarized_at REAL)""",
    "claim_clusters": """CREATE TABLE claim_clusters (
        claim_key TEXT PRIMARY KEY, vid TEXT NOT NULL REFERENCES videos (vid), cluster TEXT NOT NULL)""",
    "collection_videos": """CREATE TABLE collection_videos (
        cid TEXT REFERENCES collections (cid), vid TEXT, entry_id TEXT, position INTEGER, title TEXT,
        upload_date TEXT, listed INTEGER, kept INTEGER, first_listed_at REAL, last_listed_at REAL,
        PRIMARY KEY (cid, vid))""",
}
# The indexes the rebuilt tables had, made again.
READABLE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS evidence_owner ON evidence (vid, owner_kind, owner_id)",
    "CREATE INDEX IF NOT EXISTS claim_clusters_cluster ON claim_clusters(cluster)",
    "CREATE INDEX IF NOT EXISTS claim_clusters_vid ON claim_clusters(vid)",
    "CREATE INDEX IF NOT EXISTS collection_videos_vid ON collection_videos (vid)",
)
# Full-text indexes attached to the table each indexes (external content, kept in step by
# triggers), so a reader's search of the table is the index's: Datasette finds one by the
# double-quoted content= (a table's search box, ?_search=). Name: (table, its key, columns);
# the columns a search reads back (vid, claim_id, owner_id) are those of schema 14's tables.
ATTACHED_FTS = {
    "claims_fts": ("claims", "rowid", ("claim_text", "vid UNINDEXED", "claim_id UNINDEXED")),
    "quotes_fts": ("evidence", "evidence_id", ("quote", "vid UNINDEXED", "owner_id UNINDEXED")),
    "summaries_fts": ("video_summaries", "rowid", ("summary", "key_points", "vid UNINDEXED")),
}
# Times as people read them, beside the epoch seconds the code uses: generated columns, which
# take no space and no rewrite. Table: [(column, from)].
READABLE_TIMES = {
    "videos": [("stored_utc", "stored_at")],
    "collections": [("listed_utc", "listed_at")],
    "collection_videos": [("first_listed_utc", "first_listed_at"), ("last_listed_utc", "last_listed_at")],
    "caption_gates": [("started_utc", "started"), ("decided_utc", "decided")],
    "video_summaries": [("summarized_utc", "summarized_at")],
}


def _clock(column: str) -> str:
    """SQL for seconds into a video as h:mm:ss."""
    seconds = f"CAST({column} AS INTEGER)"
    return f"printf('%d:%02d:%02d', {seconds} / 3600, {seconds} % 3600 / 60, {seconds} % 60)"


# Where to hear a claim, as claimflow/store/query.py href says it: a YouTube link at the
# second, a local file with a media fragment, any other address as it is.
def _moment_url(source: str, seconds: str) -> str:
    at = f"CAST(COALESCE({seconds}, 0) AS INTEGER)"
    return f"""CASE
        WHEN {source} LIKE 'https://www.youtube.com/watch?v=%' OR {source} LIKE 'https://youtube.com/watch?v=%'
            THEN 'https://youtu.be/' || substr({source}, instr({source}, 'v=') + 2, 11) || '?t=' || {at}
        WHEN {source} LIKE 'https://youtu.be/%' THEN substr({source}, 1, 28) || '?t=' || {at}
        WHEN {source} LIKE 'file://%' THEN {source} || '#t=' || {at}
        ELSE {source} END"""


# Every video of the batch with its outcome, as results/summary.tsv has it (a video that
# failed or was held is in no other table): replaced whole each time the summary is written.
OUTCOMES_SCHEMA = """CREATE TABLE IF NOT EXISTS outcomes (
    vid TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT, reason_class TEXT, title TEXT)"""


# Views for what people ask. A claim's moment is its first quote's start.
READABLE_VIEWS = (
    f"""CREATE VIEW IF NOT EXISTS accepted_claims AS
    SELECT c.vid, v.title, v.channel, c.claim_id, c.claim_text, e.tier, e.score, e.rank, e.decision,
           e.importance, e.novelty, e.confidence, c.claim_type, c.domain, c.stance,
           q.quote, {_clock("q.t0")} AS at, {_moment_url("v.source", "q.t0")} AS moment
    FROM claims c JOIN evaluations e ON e.vid = c.vid AND e.claim_id = c.claim_id
    JOIN videos v ON v.vid = c.vid
    LEFT JOIN evidence q ON q.evidence_id = (SELECT evidence_id FROM evidence WHERE vid = c.vid
        AND owner_kind = 'claim' AND owner_id = c.claim_id ORDER BY t0 LIMIT 1)
    WHERE e.decision = 'accept'""",
    f"""CREATE VIEW IF NOT EXISTS quotes AS
    SELECT q.evidence_id, q.vid, v.title, q.owner_kind, q.owner_id, q.quote, {_clock("q.t0")} AS at,
           {_moment_url("v.source", "q.t0")} AS moment, q.match
    FROM evidence q JOIN videos v ON v.vid = q.vid""",
    """CREATE VIEW IF NOT EXISTS contested_claims AS
    SELECT j.a, ca.claim_text AS a_text, j.b, cb.claim_text AS b_text, j.reason, j.model
    FROM claim_judgements j
    LEFT JOIN claims ca ON ca.vid || '/' || ca.claim_id = j.a
    LEFT JOIN claims cb ON cb.vid || '/' || cb.claim_id = j.b
    WHERE j.relation = 'contradicts'""",
)


def _rebuild(conn: sqlite3.Connection, table: str, ddl: str) -> None:
    """`table` made anew by `ddl` with its rows and rowids (SQLite adds no foreign key to a table)."""
    columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
    conn.execute(ddl.replace(f"CREATE TABLE {table} ", f"CREATE TABLE {table}_15 ", 1))
    conn.execute(f"INSERT INTO {table}_15 (rowid, {columns}) SELECT rowid, {columns} FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {table}_15 RENAME TO {table}")


def _attach_fts(conn: sqlite3.Connection, name: str, table: str, key: str, columns: tuple[str, ...]) -> None:
    names = [c.split()[0] for c in columns]
    listed = ", ".join(names)
    new = ", ".join(f"new.{c}" for c in names)
    old = ", ".join(f"old.{c}" for c in names)
    delete = f"INSERT INTO {name} ({name}, rowid, {listed}) VALUES ('delete', old.{key}, {old});"
    insert = f"INSERT INTO {name} (rowid, {listed}) VALUES (new.{key}, {new});"
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(
        f'CREATE VIRTUAL TABLE {name} USING fts5({", ".join(columns)}, content="{table}", content_rowid="{key}")'
    )
    conn.execute(f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {insert} END")
    conn.execute(f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {delete} END")
    conn.execute(f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} BEGIN {delete} {insert} END")
    conn.execute(f"INSERT INTO {name} ({name}) VALUES ('rebuild')")


def _readable(conn: sqlite3.Connection) -> None:
    for table, ddl in READABLE_TABLES.items():
        _rebuild(conn, table, ddl)
    for statement in (*READABLE_INDEXES, *SEGMENTS_FTS[1:4]):  # dropped with their old tables
        conn.execute(statement)
    for name, (table, key, columns) in ATTACHED_FTS.items():
        _attach_fts(conn, name, table, key, columns)
    for table, times in READABLE_TIMES.items():
        for column, seconds in times:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT GENERATED ALWAYS AS "
                         f"(strftime('%Y-%m-%dT%H:%M:%SZ', {seconds}, 'unixepoch')) VIRTUAL")  # fmt: skip
    conn.execute(OUTCOMES_SCHEMA)
    for view in READABLE_VIEWS:
        conn.execute(view)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it commits the open transaction first, and a migration must be atomic.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _add_columns(conn: sqlite3.Connection, table: str, columns: list[tuple[str, str]]) -> None:
    # Idempotent: databases stamped version 1 by early builds may already have some of them.
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for column, kind in columns:
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


# The only embedding before schema 10 (embed.WORDLLAMA.identity; not imported: numpy is not the
# store's to load).
FIRST_EMBEDDING = "wordllama:l2_supercat:256"

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    # 0 -> 1: the tables, the evidence index and the full-text indexes.
    lambda conn: _run_script(conn, BASE_SCHEMA),
    # 1 -> 2: LLM requests, cache hits and estimated cost per video.
    lambda conn: _add_columns(
        conn, "videos", [("llm_requests", "INTEGER"), ("llm_cached", "INTEGER"), ("cost_usd", "REAL")]
    ),  # fmt: skip
    # 2 -> 3: what produced each video's results (model, device, compute type, endpoint, prompts).
    lambda conn: _add_columns(conn, "videos", [("provenance", "TEXT")]),
    # 3 -> 4: the database's identity. A database made anew (the old one lost) has another id,
    # which the store rule carries as a param: every store job reruns and refills it.
    lambda conn: _run_script(
        conn,
        f"""CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT OR IGNORE INTO meta VALUES ('database_id', '{uuid.uuid4().hex}')""",
    ),
    # 4 -> 5: collections (channels, playlists, feeds) and which videos each holds; a video in
    # two collections has two rows. `listed` 0: no longer in the collection's latest listing.
    lambda conn: _run_script(conn, COLLECTION_SCHEMA),
    # 5 -> 6: the road each video's transcript took (docs/downloads.md, 'Two roads'), a gate
    # sample's measured WER, and per channel the automatic captions gate's decision.
    lambda conn: (
        _add_columns(conn, "videos", [("road", "TEXT"), ("road_reason", "TEXT"), ("captions_wer", "REAL")]),
        _run_script(conn, GATE_SCHEMA),
    ),
    # 6 -> 7: what was said, searchable: every transcript segment in full-text search, kept in
    # step with `segments` by triggers (an external-content FTS5 table), filled from the
    # segments already stored.
    lambda conn: [conn.execute(statement) for statement in SEGMENTS_FTS],
    # 7 -> 8: claims linked across videos: each video's vectors, each claim's cluster, and the
    # near pairs for the LLM to judge (filled by the link jobs, not from the rows already stored).
    lambda conn: _run_script(conn, LINK_SCHEMA),
    # 8 -> 9: each candidate pair's judgement by the LLM (filled by the judge jobs).
    lambda conn: _run_script(conn, JUDGE_SCHEMA),
    # 9 -> 10: the embedding model of each video's vectors (claimflow/knowledge/embed.py
    # Model.identity), so a video linked under a new `link.embedding` is never compared with
    # one that still holds the old model's vectors. Until now there was one model.
    lambda conn: (
        _add_columns(conn, "video_vectors", [("model", "TEXT")]),
        conn.execute(f"UPDATE video_vectors SET model = '{FIRST_EMBEDDING}' WHERE model IS NULL"),
    ),
    # 10 -> 11: a summary per video (filled by the summarize jobs).
    lambda conn: _run_script(conn, SUMMARY_SCHEMA),
    # 11 -> 12: a candidate pair that is a claim and its negation (at least `link.same` alike,
    # one of them saying no: claimflow/store/clusters.py), judged by that rule, not the LLM.
    # The pairs before were all below `link.same`: none of them is one.
    lambda conn: _add_columns(conn, "claim_pairs", [("negation", "INTEGER NOT NULL DEFAULT 0")]),
    # 12 -> 13: a video's pairs found by their second claim too (its first has the primary key),
    # so a link job's relink and a judge job's read are index lookups, not a scan of every pair
    # (700,000 pairs at 7,000 videos: benchmarks/corpus_scale.py).
    lambda conn: conn.execute("CREATE INDEX IF NOT EXISTS claim_pairs_b ON claim_pairs(b)"),
    # 13 -> 14: what was said, searchable by meaning (filled from the segments already stored by
    # the next search by meaning, or the next run's summary job).
    lambda conn: _run_script(conn, SAID_SCHEMA),
    # 14 -> 15: a database people can read (READABLE_TABLES): foreign keys, a key on evidence,
    # the full-text indexes attached to their tables, readable times and views.
    _readable,
]
SCHEMA_VERSION = len(MIGRATIONS)

VIDEO_TABLES = (
    "videos",
    "segments",
    "claims",
    "evaluations",
    "jargon",
    "people",
    "mental_models",
    "evidence",
)  # their full-text indexes follow them (ATTACHED_FTS)


class DatabaseLocked(RuntimeError):
    """Another program held the database's write lock for longer than a store job waits."""

    def __init__(self, path: str | Path, timeout: float):
        super().__init__(
            f"{path} stayed locked by another program for {timeout:.0f} s (a write transaction left "
            "open: a database browser with unsaved changes, or an sqlite3 shell inside BEGIN). Close "
            "it and run the same command again: this video is stored then, and nothing else is lost "
            "(store.busy_timeout sets how long a store job waits)."
        )


def is_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


@contextmanager
def store_job(path: str | Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """A store job's connection: it waits up to `timeout` s for the write lock, and a lock held
    longer (by the connection, a migration or a write) ends the job as DatabaseLocked."""
    try:
        conn = connect(path, timeout=timeout)
        try:
            yield conn
        finally:
            conn.close()
    except sqlite3.OperationalError as error:
        if is_locked(error):
            raise DatabaseLocked(path, timeout) from None
        raise


def store_video(path: str | Path, vid: str, rows: dict[str, list[dict[str, Any]]], timeout: float) -> dict[str, int]:
    """The store job: one video's rows in one transaction, waiting up to `timeout` s for the lock."""
    with store_job(path, timeout) as conn:
        return upsert(conn, vid, rows)


def store_summary(path: str | Path, summary: Any, model: str, timeout: float) -> None:
    """The summarize job: the video's summary (claimflow/knowledge/summarize.py Summary) in
    place of the one before, in one transaction."""
    with store_job(path, timeout) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM video_summaries WHERE vid = ?", (summary.vid,))  # and from summaries_fts
            conn.execute("INSERT INTO video_summaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (summary.vid, summary.summary, json.dumps(list(summary.key_points), ensure_ascii=False),
                          model, summary.segments_sent, summary.segments, time.time()))  # fmt: skip
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def connect(path: str | Path, timeout: float = 300.0) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    migrate(conn, str(path))
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, name: str = "the database") -> int:
    """Apply the migrations the database lacks, in order; return the version it is now at."""
    while (version := schema_version(conn)) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) == version:  # another store job may have done it meanwhile
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{name} has schema version {version}, newer than this claimflow's {SCHEMA_VERSION}: it was "
            "written by a later claimflow. Update claimflow, or point `results` at a new folder."
        )
    return version


def _insert(conn: sqlite3.Connection, table: str, rows: Iterable[dict[str, Any]]) -> int:
    rows = list(rows)
    if not rows:
        return 0
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    conn.executemany(sql, [tuple(row[c] for c in columns) for row in rows])
    return len(rows)


def _evidence(vid: str, kind: str, owner: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "vid": vid,
            "owner_kind": kind,
            "owner_id": owner,
            "segment_id": s["segment_id"],
            "quote": s["quote"],
            "t0": s["t0"],
            "t1": s["t1"],
            "match": s.get("match"),
            "score": s.get("score"),
        }
        for s in spans
    ]


def rows_for(download: dict, transcript: dict, claims: dict, evaluation: dict) -> dict[str, list[dict[str, Any]]]:
    vid = download["vid"]
    usage = [claims.get("usage", {}), evaluation.get("usage", {})]
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in VIDEO_TABLES}
    rows["videos"].append(
        {
            "vid": vid,
            "status": evaluation.get("status", transcript.get("status")),
            "reason": evaluation.get("reason") or transcript.get("reason"),
            "title": download.get("title"),
            "channel": download.get("channel"),
            "duration": transcript.get("duration") or download.get("duration"),
            "upload_date": download.get("upload_date"),
            "source": download.get("source"),
            "account": download.get("account"),
            "language": transcript.get("language"),
            "transcript_source": roads.source_of(transcript),
            "road": roads.of_manifest(download),
            "road_reason": download.get("road_reason"),
            "captions_wer": (transcript.get("gate") or {}).get("wer"),
            "mine_prompt": claims.get("prompt"),
            "evaluate_prompt": evaluation.get("prompt"),
            "llm_model": claims.get("model"),
            "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
            "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
            "llm_requests": sum(u.get("requests", 0) for u in usage),
            "llm_cached": sum(u.get("cached", 0) for u in usage),
            "cost_usd": None
            if any(u.get("cost_usd") is None for u in usage if u)
            else sum(u["cost_usd"] for u in usage if u),
            "provenance": json.dumps(
                {
                    k: doc.get("provenance")
                    for k, doc in (("transcribe", transcript), ("mine", claims), ("evaluate", evaluation))
                    if doc.get("provenance")
                }
            ),  # fmt: skip
            "stored_at": time.time(),
        }
    )
    rows["segments"] = [
        {"vid": vid, "segment_id": s["id"], "start": s["start"], "end": s["end"], "text": s["text"]}
        for s in transcript.get("segments", [])
    ]
    for claim in claims.get("claims", []):
        cid = claim["claim_id"]
        rows["claims"].append(
            {
                "vid": vid,
                "claim_id": cid,
                "claim_text": claim["claim_text"],
                "claim_type": claim["claim_type"],
                "domain": claim["domain"],
                "stance": claim["stance"],
                "supported": int(claim["supported"]),
                "window": claim["window"],
            }
        )
        rows["evidence"] += _evidence(vid, "claim", cid, claim["evidence_spans"])
    for kind, table, key in (
        ("jargon", "jargon", "evidence_spans"),
        ("person", "people", "mentions"),
        ("mental_model", "mental_models", "evidence_spans"),
    ):
        for number, item in enumerate(claims.get(table, []), start=1):
            item_id = f"{kind[0]}{number:03d}"
            fields = {k: v for k, v in item.items() if k not in (key, "window", "supported")}
            rows[table].append({"vid": vid, "item_id": item_id, **fields})
            rows["evidence"] += _evidence(vid, kind, item_id, item[key])
    for ev in evaluation.get("evaluations", []):
        rows["evaluations"].append(
            {
                "vid": vid,
                "claim_id": ev["claim_id"],
                "decision": ev["decision"],
                "merge_with": json.dumps(ev.get("merge_with", [])),
                "importance": ev.get("importance"),
                "novelty": ev.get("novelty"),
                "confidence": ev.get("confidence"),
                "dimensions": json.dumps(ev.get("dimensions")) if ev.get("dimensions") else None,
                "score": ev.get("score"),
                "tier": ev.get("tier"),
                "rank": ev.get("rank"),
            }
        )
    return rows


def upsert(conn: sqlite3.Connection, vid: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Replace everything stored for `vid` in one transaction."""
    counts: dict[str, int] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in VIDEO_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE vid = ?", (vid,))
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'said_codes'").fetchone():  # schema 14
            conn.execute("DELETE FROM said_codes WHERE vid = ?", (vid,))  # its old segments' codes
        for table in VIDEO_TABLES:
            counts[table] = _insert(conn, table, rows.get(table, []))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


def database_id(path: str | Path) -> str | None:
    """The database's identity, or None when there is none yet (read-only, for parse time)."""
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # older than schema 4, or being created: the store jobs migrate it
    return row[0] if row else None


def new_identity() -> str:
    return uuid.uuid4().hex


def ensure(path: str | Path, identity: str | None = None) -> str:
    """Create (or migrate) the database and return its identity. `identity`: the one the run's
    parse chose for a database that had none (missing, or older than schema 4): it becomes the
    database's, so the store rule's param says the same in this run and the next."""
    conn = connect(path)
    try:
        if identity is not None:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'database_id'", (identity,))
    finally:
        conn.close()
    found = database_id(path)
    assert found is not None
    return found


def store_outcomes(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """The batch's outcomes (claimflow/store/summary.py rows) in place of the last ones."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM outcomes")
        conn.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)",
                         [(r["vid"], str(r["status"]), r.get("reason"), r.get("reason_class"), r.get("title"))
                          for r in rows])  # fmt: skip
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def store_gate(path: str | Path, state: dict[str, Any], timeout: float) -> None:
    """A channel's automatic captions gate (claimflow/download/gate.py) as its state file says,
    written by the store job of each of its sample videos: the last one's carries the decision."""
    with store_job(path, timeout) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO caption_gates VALUES (?, ?, ?, ?, ?, ?, ?)",
            (state["channel"], state.get("decision") or "undecided", state.get("median_wer"), state.get("max_wer"),
             json.dumps(state.get("samples") or {}, sort_keys=True), state.get("started"), state.get("decided")),
        )  # fmt: skip


def forget_gates(path: str | Path, channels: list[str], timeout: float) -> None:
    """`claimflow gate --reset`: the channels' gate rows go with their state files."""
    if not Path(path).is_file():
        return
    with store_job(path, timeout) as conn:
        conn.executemany("DELETE FROM caption_gates WHERE channel = ?", [(c,) for c in channels])


def store_collection(path: str | Path, selection: dict[str, Any], timeout: float) -> dict[str, int]:
    """A collection's listing, in one transaction: the collection's row, a row per listed video
    (kept by the filters or not), and `listed = 0` for videos its earlier listings had and this
    one has not (never deleted: their results stay). Returns the counts."""
    cid, at = selection["collection"], selection["listed_at"]
    kept = {e["vid"]: e for e in selection["entries"]}
    listed = {e["vid"]: e for e in selection["listed"]}
    now_listed = {vid for vid, e in listed.items() if e.get("listed", True)}
    with store_job(path, timeout) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT OR REPLACE INTO collections VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cid, selection["url"], selection["kind"], selection["title"], at, json.dumps(selection["filters"]),
             json.dumps(selection["counts"])),
        )  # fmt: skip
        for vid, entry in listed.items():
            full = kept.get(vid, entry)
            conn.execute(
                """INSERT INTO collection_videos VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
                   ON CONFLICT (cid, vid) DO UPDATE SET entry_id=excluded.entry_id,
                   position=COALESCE(excluded.position, position), title=COALESCE(excluded.title, title),
                   upload_date=COALESCE(excluded.upload_date, upload_date), kept=excluded.kept,
                   last_listed_at=excluded.last_listed_at""",
                (cid, vid, entry["entry_id"], full.get("position"), full.get("title"), full.get("upload_date"),
                 int(vid in kept), at, at),
            )  # fmt: skip
        gone = [row[0] for row in conn.execute("SELECT vid FROM collection_videos WHERE cid = ?", (cid,))
                if row[0] not in now_listed]  # fmt: skip
        conn.executemany("UPDATE collection_videos SET listed = 0 WHERE cid = ? AND vid = ?", [(cid, v) for v in gone])
        conn.executemany("UPDATE collection_videos SET listed = 1 WHERE cid = ? AND vid = ?",
                         [(cid, v) for v in now_listed])  # fmt: skip
        conn.execute("COMMIT")
    return {"listed": len(listed), "kept": len(kept), "no_longer_listed": len(gone)}

"""What was said, searchable by meaning: every transcript segment of the batch as a 256-bit code.

A video's segments are coded once (the bundled model's vectors, their signs: claimflow/knowledge/
embed.py `signs`) into `said_codes`, by whoever needs them first: a search by meaning codes the
videos stored since the last one, and the summary job at the end of a run codes the batch's. A
search reads every code (134 MB at 4.2 million segments), keeps the `SHORTLIST` nearest by the
Hamming distance of their first 128 bits, then the `RERANK` nearest of those by all 256, and
ranks those by the cosine of their texts' float vectors, embedded again (the codes find the
neighbourhood; the vectors decide the order).

The codes are always the bundled model's, whatever `link.embedding` names: coding millions of
segments through an endpoint would be a paid request per few hundred segments, and a search
would wait on the network. Storing a video again drops its codes (database.upsert); a video
stored with other segments between the read of its segments and the write of their codes is
left for the next.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claimflow.knowledge import embed

CODES = f"{embed.WORDLLAMA.identity}:signs"  # what said_codes.model holds
# The nearest codes ranked again by their vectors. At 4.2 million segments, the 20 nearest by
# cosine among the 500 nearest codes are the exact search's for 50 of 50 queries; among 300,
# a query whose nearest are twenty copies of one sentence found 7 of them (a code's distance
# is coarse: ties at the cut are many). Each costs its text's embedding: 0.14 ms.
RERANK = 500
# The codes nearest by their first 128 bits (half the arithmetic over every code), among which
# the RERANK nearest by all 256 are found: 2,000 to 16,000 change no result
# (benchmarks/said_meaning.py).
SHORTLIST = 4000
VIDEOS_PER_WRITE = 64  # about 38,000 segments embedded (3 s on one core), then one short write
VIDEOS_PER_SECOND = 12  # coded on one core, at 600 segments a video (benchmarks/said_meaning.py)


@dataclass(frozen=True)
class Found:
    """A segment near a search in meaning: its video, its id and the cosine of the two."""

    vid: str
    segment_id: int
    similarity: float


def uncoded(conn: sqlite3.Connection) -> list[str]:
    """The stored videos whose segments have no codes (of `CODES`) yet, by id."""
    return [row[0] for row in conn.execute(
        "SELECT vid FROM videos WHERE vid NOT IN (SELECT vid FROM said_codes WHERE model = ?) ORDER BY vid",
        (CODES,))]  # fmt: skip


def _segments(conn: sqlite3.Connection, vid: str) -> list[tuple[int, str | None]]:
    return conn.execute("SELECT segment_id, text FROM segments WHERE vid = ? ORDER BY segment_id", (vid,)).fetchall()


def update(conn: sqlite3.Connection, coder: embed.Embedder, vids: Iterable[str] | None = None,
           progress: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Code the segments of `vids` (default: every video not coded yet), `VIDEOS_PER_WRITE`
    videos at a time, each group in one short write transaction (a store job waits milliseconds,
    not the embedding's seconds); the number of videos coded. `progress` hears each group's."""
    if coder.model != embed.WORDLLAMA:
        raise ValueError(f"what was said is coded by the bundled model {embed.WORDLLAMA.identity}, not {coder.model}")
    todo = uncoded(conn) if vids is None else list(vids)
    coded = 0
    for start in range(0, len(todo), VIDEOS_PER_WRITE):
        group = todo[start : start + VIDEOS_PER_WRITE]
        read = {vid: _segments(conn, vid) for vid in group}
        texts = [text or "" for rows in read.values() for _, text in rows]
        codes = embed.signs(coder.embed(texts)) if texts else np.zeros((0, embed.CODE_BYTES), np.uint8)
        conn.execute("BEGIN IMMEDIATE")
        try:
            offset = 0
            for vid, rows in read.items():
                mine = codes[offset : offset + len(rows)]
                offset += len(rows)
                if _segments(conn, vid) != rows:
                    continue  # stored again meanwhile with other segments: coded by the next update
                ids = np.asarray([segment_id for segment_id, _ in rows], dtype=np.int32)
                conn.execute(
                    "INSERT OR REPLACE INTO said_codes (vid, model, segments, segment_ids, codes) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (vid, CODES, len(rows), ids.tobytes(), mine.tobytes()),
                )
                coded += 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if progress is not None:
            progress(len(group))
    return coded


def code_stored(database: str | Path, coder: embed.Embedder | None = None,
                announce: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Code the videos of `database` stored since the last coding (the bundled model loaded only
    when there are some); `announce` hears how many first. The number coded."""
    from claimflow.store import database as store  # the writer's connection (migrations, busy timeout)

    conn = store.connect(database)
    try:
        todo = uncoded(conn)
        if not todo:
            return 0
        if announce is not None:
            announce(len(todo))
        return update(conn, coder or embed.WordLlamaEmbedder(embed.WORDLLAMA), todo)
    finally:
        conn.close()


def nearest(conn: sqlite3.Connection, coder: embed.Embedder, text: str, k: int,
            vids: set[str] | None = None) -> list[Found]:  # fmt: skip
    """The `k` coded segments nearest `text` in meaning (of the videos `vids`, default all),
    the nearest first, ties by video and segment id."""
    query = coder.embed([text])
    code = embed.signs(query)[0]
    rows = sorted(row for row in conn.execute("SELECT vid, segments, codes FROM said_codes WHERE model = ?", (CODES,))
                  if vids is None or row[0] in vids)  # fmt: skip
    if not rows:
        return []
    # Every code's first 128 bits, a few hundred videos at a time (the distances are small, one
    # copy of every code is not); the shortlist by all 256 bits; the nearest of those reranked.
    first = np.concatenate([
        embed.hamming(np.frombuffer(b"".join(r[2] for r in rows[start : start + 256]), dtype=np.uint8)
                      .reshape(-1, embed.CODE_BYTES), code, words=2)
        for start in range(0, len(rows), 256)])  # fmt: skip
    starts = np.cumsum([0, *(r[1] for r in rows)])
    shortlist = np.sort(embed.closest(first, max(k, SHORTLIST)))
    videos = np.searchsorted(starts, shortlist, side="right") - 1
    size = embed.CODE_BYTES
    whole = b"".join(rows[v][2][(r - starts[v]) * size : (r - starts[v] + 1) * size]
                     for v, r in zip(videos.tolist(), shortlist.tolist(), strict=True))  # fmt: skip
    second = embed.hamming(np.frombuffer(whole, dtype=np.uint8).reshape(-1, size), code)
    candidates = []
    ids: dict[int, np.ndarray] = {}
    for row in shortlist[embed.closest(second, max(k, RERANK))]:
        video = int(np.searchsorted(starts, row, side="right")) - 1
        if video not in ids:
            blob = conn.execute("SELECT segment_ids FROM said_codes WHERE vid = ?", (rows[video][0],)).fetchone()[0]
            ids[video] = np.frombuffer(blob, dtype=np.int32)
        candidates.append((rows[video][0], int(ids[video][row - starts[video]])))
    texts = [
        conn.execute("SELECT text FROM segments WHERE vid = ? AND segment_id = ?", c).fetchone() for c in candidates
    ]
    kept = [(c, t[0] or "") for c, t in zip(candidates, texts, strict=True) if t is not None]
    if not kept:
        return []
    cosines = coder.embed([t for _, t in kept]) @ query[0]
    order = sorted(range(len(kept)), key=lambda i: (-round(float(cosines[i]), 6), kept[i][0]))
    return [Found(kept[i][0][0], kept[i][0][1], round(float(cosines[i]), 6)) for i in order[:k]]

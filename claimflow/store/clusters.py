"""Claims linked across the batch: every accepted claim in a cluster of the claims that say the
same thing, in any video.

A cluster is a connected component of the graph whose edges join two claims at least the
threshold alike (claimflow/knowledge/embed.py: exact integer similarities of int8 vectors) that
agree in saying no or not (embed.negated: a claim and its negation are a candidate pair instead).
Components do not depend on the order claims arrive in, so linking one video at a time (each
video's claims against the index, never revisiting the rest of the batch) gives the clusters a
rebuild from the files gives, in any order. A cluster is named by its smallest member key, so
its name is a function of its members too; its canonical text (the best-scored member) is read
from the members, never stored to go stale.

The index lives in the database (`video_vectors`, 256 bytes a claim: 90 MB at 7,000 videos of
50 claims), in the same transactions as the clusters, so a video's relink (its claims changed)
deletes and adds in one step and nothing can disagree after a crash. Each row names its
embedding model: a video is only ever compared with videos embedded by the same model, so when
`link.embedding` changes, the videos relinked so far form the new model's clusters and the rest
keep the old model's until their own link jobs rerun (a video at a time, as always).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claimflow.knowledge import embed
from claimflow.store import database


@dataclass(frozen=True)
class Linking:
    """What linking needs to know: the same-claim threshold, and the band below it whose
    nearest claims in other videos become candidate pairs (at most `pairs_per_claim` each)."""

    # Chosen on STS-B's even pairs, checked on its odd ones (benchmarks/similarity.py): at 0.90
    # 0.93 of the pairs linked are people's "same" (4-5 of 5) against "differs in what matters"
    # (3 and below), at a recall of 0.31; at 0.80 precision falls to 0.77. The bundled static
    # embedding finds near-paraphrases alone; the band below is for the LLM to judge.
    same: float = 0.90
    near: float = 0.70
    pairs_per_claim: int = 3

    @property
    def same_units(self) -> int:
        return embed.threshold_units(self.same)

    @property
    def near_units(self) -> int:
        return embed.threshold_units(self.near)


@dataclass(frozen=True)
class Linked:
    """One video's linking, as its job's log and record say it."""

    vid: str
    claims: int
    joined: int  # of its claims, those in a cluster with a claim of another video
    clusters_merged: int  # existing clusters joined together through its claims
    pairs: int  # candidate pairs recorded


def create(conn: sqlite3.Connection) -> None:
    """The tables alone (the first schema, whose claims hold the texts, and what migrations 8 to
    10, 12 and 13 make), for a connection of the tests' own."""
    for migration in [database.MIGRATIONS[0], *database.MIGRATIONS[7:10], *database.MIGRATIONS[11:13]]:
        migration(conn)


def link_record(path: str | Path, record: embed.Record, linking: Linking, timeout: float) -> Linked:
    """The link job: one video's record linked in one immediate transaction, waiting up to
    `timeout` s for the write lock (claimflow/store/database.py store_job)."""
    with database.store_job(path, timeout) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            keys = [f"{record.vid}/{cid}" for cid in record.claim_ids]
            linked = link(conn, record.vid, keys, record.vectors, linking, model=record.model)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return linked


class RowKeys:
    """Which video's which claim each row of videos' vectors laid end to end is (the rows of
    `video_vectors`, in order), its claim ids decoded only for the videos of the rows asked."""

    def __init__(self, rows: Sequence[tuple]):  # (vid, claims, ..., claim_ids JSON): a video_vectors row
        self._vids = [r[0] for r in rows]
        self._ids = [r[-1] for r in rows]
        self._starts = np.cumsum([0, *(r[1] for r in rows)])
        self._decoded: dict[int, list[str]] = {}

    def key(self, row: int) -> str:
        video = int(np.searchsorted(self._starts, row, side="right")) - 1
        if video not in self._decoded:
            self._decoded[video] = json.loads(self._ids[video])
        return f"{self._vids[video]}/{self._decoded[video][row - self._starts[video]]}"


class Index:
    """Every video's vectors of one embedding model as one int8 matrix, read in one query (a row
    per video: 7,000 rows, not 350,000); a row's claim key is decoded only for the rows a search
    finds."""

    def __init__(self, conn: sqlite3.Connection, dim: int, model: str):
        rows = conn.execute("SELECT vid, claims, vectors, claim_ids FROM video_vectors WHERE model = ? ORDER BY vid",
                            (model,)).fetchall()  # fmt: skip
        self.vids = [r[0] for r in rows]
        self.key = RowKeys(rows).key
        data = b"".join(r[2] for r in rows)
        self.vectors = np.frombuffer(data, dtype=np.int8).reshape(-1, dim) if data else np.zeros((0, dim), np.int8)


def nearest(conn: sqlite3.Connection, model: str, query: np.ndarray, k: int) -> Iterator[tuple[str, int]]:
    """The `k` claims of `model`'s videos most alike one int8 `query` vector, the most alike
    first (ties in the index's order, by video id), with their similarities: a search by
    meaning, read lazily (a search with no filter reads its first 20). The videos' vectors are
    read in the table's own order and multiplied a few hundred videos at a time, never gathered
    into one matrix (at 7,000 videos that 90 MB copy cost more than the product)."""
    rows = sorted(conn.execute("SELECT vid, claims, vectors, claim_ids FROM video_vectors WHERE model = ?", (model,)))
    parts = []
    for start in range(0, len(rows), 256):
        vectors = b"".join(r[2] for r in rows[start : start + 256])
        parts.append(embed.similarity(np.frombuffer(vectors, dtype=np.int8).reshape(-1, query.shape[-1]),
                                      query.reshape(1, -1))[:, 0])  # fmt: skip
    if not parts:
        return
    units = np.concatenate(parts)
    keys = RowKeys(rows)
    for row in embed.nearest(units, k):
        yield keys.key(int(row)), int(units[row])


class MemoryIndex:
    """The index a rebuild grows in memory as it links video after video: the same rows a link
    job reads from the database, already as float32 (exact for int8, see embed.similarity), so
    no video's vectors are read or converted twice. 350,000 claims of 256 dimensions: 358 MB."""

    def __init__(self, claims: int, dim: int):
        self._rows = np.empty((claims, dim), dtype=np.float32)
        self._keys: list[str] = []

    @property
    def vectors(self) -> np.ndarray:
        return self._rows[: len(self._keys)]

    def key(self, row: int) -> str:
        return self._keys[row]

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        start = len(self._keys)
        self._rows[start : start + len(keys)] = vectors
        self._keys.extend(keys)


def _video_vectors(conn: sqlite3.Connection, vid: str) -> tuple[str | None, list[str], np.ndarray]:
    """A video's model, claim keys and vectors (claims x the model's own dimensions)."""
    row = conn.execute("SELECT model, claim_ids, claims, vectors FROM video_vectors WHERE vid = ?", (vid,)).fetchone()
    if row is None:
        return None, [], np.zeros((0, embed.DIM), np.int8)
    model, ids, claims, data = row
    return model, [f"{vid}/{c}" for c in json.loads(ids)], np.frombuffer(data, dtype=np.int8).reshape(claims, -1)


def _negated(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, bool]:
    """Whether each claim (`<vid>/<claim id>`) says no, from its stored text (embed.negated); a
    claim whose text is not stored counts as not negated."""
    by_video: dict[str, list[str]] = {}
    for key in keys:
        vid, cid = key.split("/", 1)
        by_video.setdefault(vid, []).append(cid)
    found = dict.fromkeys(keys, False)
    for vid, cids in sorted(by_video.items()):
        for start in range(0, len(cids), 500):
            chunk = cids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT claim_id, claim_text FROM claims WHERE vid = ? AND claim_id IN ({marks})"
            for cid, text in conn.execute(query, (vid, *chunk)):
                found[f"{vid}/{cid}"] = embed.negated(text)
    return found


def _components(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find over `nodes`; each node's component named by its smallest node."""
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in nodes}


# A video's pairs: the keys `<vid>/...` sort from "<vid>/" to just before "<vid>0" ("0" follows
# "/"), a range each of the pairs' two indexes answers (a prefix test would read every pair).
_OF_VIDEO = "(a >= ? AND a < ?) OR (b >= ? AND b < ?)"


def _of_video(vid: str) -> tuple[str, str, str, str]:
    return f"{vid}/", f"{vid}0", f"{vid}/", f"{vid}0"


def _video(key: str) -> str:
    return key.split("/", 1)[0]


def _pair(one: str, other: str, units: int, same: int) -> tuple[str, str, float, int]:
    """A claim_pairs row: the two keys in order, the cosine, whether it is a claim and its negation."""
    return min(one, other), max(one, other), float(embed.cosine(units)), int(units >= same)


def _nearest_before(conn: sqlite3.Connection, key: str, offered: list[tuple[int, str]], k: int,
                    ) -> list[tuple[int, str]]:  # fmt: skip
    """A claim's pairs with the videos before its own, after `offered` ((-units, key) of new
    claims) compete for its `k` places, the nearest first, ties by key: the pairs that lose
    their place are deleted, and the places kept returned (the caller writes the new ones)."""
    before = _video(key)
    current = []
    for a, b, similarity in conn.execute("SELECT a, b, similarity FROM claim_pairs WHERE a = ? OR b = ?", (key, key)):
        partner = b if a == key else a
        if _video(partner) < before:
            current.append((-round(similarity * embed.SCALE * embed.SCALE), partner))
    kept = sorted([*current, *offered])[:k]
    places = {partner for _, partner in kept}
    lost = [(min(key, p), max(key, p)) for _, p in current if p not in places]
    conn.executemany("DELETE FROM claim_pairs WHERE a = ? AND b = ?", lost)
    return kept


def _refill(conn: sqlite3.Connection, keys: list[str], linking: Linking,
            known: tuple[str, Index, list[str], np.ndarray] | None = None) -> None:  # fmt: skip
    """Claims that lost pairs to a video unlinked (relinked with other claims, or none) take
    their `pairs_per_claim` nearest among the videos before theirs again, from the whole index:
    one product per embedding model for all of them (an index read per claim's video cost
    seconds at 1,000 videos). `known`: a model's index the caller read already, without the
    relinked video, and that video's new keys and vectors (read again, the index would double
    a relink's time)."""
    same, wanted = linking.same_units, set(keys)
    by_model: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for vid in sorted({_video(k) for k in keys}):
        model, own, vectors = _video_vectors(conn, vid)
        if model is None:
            continue
        found = by_model.setdefault(model, ([], []))
        for key, row in zip(own, vectors, strict=True):
            if key in wanted:
                found[0].append(key)
                found[1].append(row)
    for model, (claims, rows) in sorted(by_model.items()):
        vectors = np.array(rows, dtype=np.int8)
        if known is not None and known[0] == model:
            _, index, new_keys, new_vectors = known
            hit_rows, columns, units = embed.above(index.vectors, vectors, linking.near_units)
            others = [index.key(int(i)) for i in hit_rows]
            new_rows, new_columns, new_units = embed.above(new_vectors, vectors, linking.near_units)
            others += [new_keys[int(i)] for i in new_rows]
            columns, units = np.concatenate([columns, new_columns]), np.concatenate([units, new_units])
        else:
            index = Index(conn, vectors.shape[1], model)
            hit_rows, columns, units = embed.above(index.vectors, vectors, linking.near_units)
            others = [index.key(int(i)) for i in hit_rows]
        negations = _negated(conn, [*claims, *others])
        band: dict[str, list[tuple[int, str]]] = {}
        for j, other, u in zip(columns.tolist(), others, units.tolist(), strict=True):
            key = claims[j]
            if _video(other) < _video(key) and not (u >= same and negations[key] == negations[other]):
                band.setdefault(key, []).append((-u, other))
        for key in claims:
            stale = [(a, b) for a, b in conn.execute("SELECT a, b FROM claim_pairs WHERE a = ? OR b = ?", (key, key))
                     if _video(b if a == key else a) < _video(key)]  # fmt: skip
            conn.executemany("DELETE FROM claim_pairs WHERE a = ? AND b = ?", stale)
            conn.executemany("INSERT OR REPLACE INTO claim_pairs (a, b, similarity, negation) VALUES (?, ?, ?, ?)",
                             [_pair(key, other, -minus, same)
                              for minus, other in sorted(band.get(key, []))[: linking.pairs_per_claim]])  # fmt: skip


def _unlink(conn: sqlite3.Connection, vid: str, threshold: int) -> None:
    """Remove a video's claims; a cluster they held together may fall apart: its remaining
    members' components are recomputed among themselves (the only edges that can have changed;
    a cluster's members share one model, but should a row of another be there, each model's
    members are compared among themselves only)."""
    touched = [r[0] for r in conn.execute("SELECT DISTINCT cluster FROM claim_clusters WHERE vid = ?", (vid,))]
    conn.execute("DELETE FROM claim_clusters WHERE vid = ?", (vid,))
    conn.execute(f"DELETE FROM claim_pairs WHERE {_OF_VIDEO}", _of_video(vid))
    conn.execute("DELETE FROM video_vectors WHERE vid = ?", (vid,))
    for cluster in touched:
        members = conn.execute("SELECT claim_key, vid FROM claim_clusters WHERE cluster = ? ORDER BY claim_key",
                               (cluster,)).fetchall()  # fmt: skip
        if not members:
            continue
        vectors_of: dict[str, tuple[str | None, np.ndarray]] = {}
        for member_vid in sorted({m[1] for m in members}):
            model, keys, vectors = _video_vectors(conn, member_vid)
            vectors_of.update((key, (model, row)) for key, row in zip(keys, vectors, strict=True))
        keys = [m[0] for m in members]
        edges = []
        for model in sorted({vectors_of[k][0] or "" for k in keys}):
            same_model = [k for k in keys if (vectors_of[k][0] or "") == model]
            vectors = np.array([vectors_of[k][1] for k in same_model], dtype=np.int8)
            sims = embed.similarity(vectors, vectors)
            negated = _negated(conn, same_model)
            edges += [(same_model[i], same_model[j]) for i, j in zip(*np.nonzero(sims >= threshold), strict=True)
                      if i < j and negated[same_model[i]] == negated[same_model[j]]]  # fmt: skip
        for key, root in _components(keys, edges).items():
            conn.execute("UPDATE claim_clusters SET cluster = ? WHERE claim_key = ?", (root, key))


def link(conn: sqlite3.Connection, vid: str, keys: Sequence[str], vectors: np.ndarray,
         linking: Linking = Linking(), model: str = embed.WORDLLAMA.identity) -> Linked:  # fmt: skip
    """Link one video's accepted claims (`keys`, `<vid>/<claim id>`, with their int8 `vectors`
    of embedding `model`) into the clusters of the videos embedded by the same model, replacing
    whatever the video had linked before. One transaction (the caller's connection commits): a
    crash leaves the previous state whole."""
    # The claims of later videos that held pairs with this one's old claims: their places are
    # filled again once it is linked anew.
    bereft = sorted({b if a.startswith(f"{vid}/") else a for a, b in
                     conn.execute(f"SELECT a, b FROM claim_pairs WHERE {_OF_VIDEO}", _of_video(vid))
                     if _video(b if a.startswith(f"{vid}/") else a) > vid})  # fmt: skip
    _unlink(conn, vid, linking.same_units)
    linked, known = Linked(vid, 0, 0, 0, 0), None
    if keys:
        keys, vectors = _in_key_order(keys, vectors)
        index = Index(conn, vectors.shape[1], model)
        linked = _link_new(conn, vid, keys, vectors, linking, model, index)
        known = (model, index, keys, vectors)
    if bereft:
        _refill(conn, bereft, linking, known)
    return linked


def _in_key_order(keys: Sequence[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A video's keys sorted, and its vectors in their order (the index's rows are)."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return [keys[i] for i in order], np.ascontiguousarray(vectors[order])


def rebuild(conn: sqlite3.Connection, records: Iterable[embed.Record], linking: Linking = Linking()) -> list[Linked]:
    """The whole batch linked again from its videos' records, in one process: the link tables
    emptied, then each video linked as its link job would, in the order of their ids, against an
    index held in memory, sized by the records' claims. The clusters are those of any order of
    link jobs (they are components); the judgements are kept, since a pair's verdict is its two
    claims' own. The caller commits."""
    records = sorted(records, key=lambda r: r.vid)
    total = sum(len(r.claim_ids) for r in records)
    conn.execute("DELETE FROM claim_clusters")
    conn.execute("DELETE FROM claim_pairs")
    conn.execute("DELETE FROM video_vectors")
    # Every claim's negation read once (a link job reads those of the claims it meets).
    negations = {f"{vid}/{cid}": embed.negated(text) for vid, cid, text in
                 conn.execute("SELECT vid, claim_id, claim_text FROM claims")}  # fmt: skip
    indexes: dict[str, MemoryIndex] = {}  # a model's own: videos of two models are never compared
    done = {r.vid: Linked(r.vid, 0, 0, 0, 0) for r in records}
    for group in _groups(records):
        model = group[0].model
        videos = [_in_key_order([f"{r.vid}/{cid}" for cid in r.claim_ids], r.vectors) for r in group]
        index = indexes.get(model)
        if index is None:
            index = indexes[model] = MemoryIndex(total, videos[0][1].shape[1])
        # The group's claims against the videos before it in one product (a wider product is
        # twice the arithmetic per second of one video's 50 columns), then each video against
        # the group's videos before it.
        start = len(index.vectors)
        claims = np.concatenate([v for _, v in videos])
        rows, columns, units = embed.above(index.vectors, claims, linking.near_units)
        offset = 0
        for record, (keys, vectors) in zip(group, videos, strict=True):
            mine = (columns >= offset) & (columns < offset + len(keys))
            near_rows, near_columns, near_units = embed.above(index.vectors[start:], vectors, linking.near_units)
            hits = (np.concatenate([rows[mine], near_rows + start]),
                    np.concatenate([columns[mine] - offset, near_columns]),
                    np.concatenate([units[mine], near_units]))  # fmt: skip
            done[record.vid] = _link_new(conn, record.vid, keys, vectors, linking, model, index, negations, hits)
            index.add(keys, vectors)
            offset += len(keys)
    return list(done.values())


GROUP_CLAIMS = 256  # a rebuild's product: about five videos' claims at a time


def _groups(records: list[embed.Record]) -> list[list[embed.Record]]:
    """The records with claims, in order, in runs of one model of about GROUP_CLAIMS claims."""
    groups: list[list[embed.Record]] = []
    size = 0
    for record in records:
        if not record.claim_ids:
            continue
        if not groups or groups[-1][0].model != record.model or size + len(record.claim_ids) > GROUP_CLAIMS:
            groups.append([])
            size = 0
        groups[-1].append(record)
        size += len(record.claim_ids)
    return groups


def _link_new(conn: sqlite3.Connection, vid: str, keys: list[str], vectors: np.ndarray, linking: Linking,
              model: str, index: Index | MemoryIndex, negations: dict[str, bool] | None = None,
              hits: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Linked:  # fmt: skip
    """A video not linked (or no longer) against `index`, the other videos of its model: its
    keys sorted, `vectors` in their order. A rebuild passes what it knows already: `negations`
    (whether each claim says no; otherwise read from the stored texts) and `hits` (embed.above
    of the index and the vectors at `link.near`)."""
    same, near = linking.same_units, linking.near_units
    claim_ids = [k.split("/", 1)[1] for k in keys]
    conn.execute("INSERT INTO video_vectors (vid, claim_ids, claims, vectors, model) VALUES (?, ?, ?, ?, ?)",
                 (vid, json.dumps(claim_ids), len(keys), vectors.tobytes(), model))  # fmt: skip
    # The claims of other videos at least `near` alike, a block of the index at a time.
    rows, columns, units = embed.above(index.vectors, vectors, near) if hits is None else hits
    within = embed.similarity(vectors, vectors)
    # Two claims at least `same` alike are one claim unless one says no and the other does not
    # (a static embedding cannot see a negation): then they are a candidate pair, the nearest.
    others = [index.key(int(i)) for i in rows]
    is_same = units >= same
    if negations is None:
        negations = _negated(conn, [*keys, *(o for o, s in zip(others, is_same, strict=True) if s)])
    negated = {key: negations.get(key, False) for key in keys}
    edges = [(keys[i], keys[j]) for i, j in zip(*np.nonzero(within >= same), strict=True)
             if i < j and negated[keys[i]] == negated[keys[j]]]  # fmt: skip
    linked_to: dict[str, list[str]] = {key: [] for key in keys}  # new claim -> the old claims it is the same as
    # The nearest claims below the same-claim threshold, and the negations above it: candidate
    # pairs for the LLM.
    # pairs for the LLM. A pair belongs to its claim of the later video (by id): each claim
    # keeps its `pairs_per_claim` nearest among the videos before its own, so the pairs are those
    # of the final batch whatever order the videos were linked in. A new claim may take a place
    # from a claim of a later video linked before it (`offers`).
    band: dict[int, list[tuple[int, str]]] = {}
    offers: dict[str, list[tuple[int, str]]] = {}
    for j, other, u, alike in zip(columns.tolist(), others, units.tolist(), is_same.tolist(), strict=True):
        if alike and negated[keys[j]] == negations.get(other, False):
            linked_to[keys[j]].append(other)
        elif _video(other) < vid:
            band.setdefault(j, []).append((-u, other))
        else:
            offers.setdefault(other, []).append((-u, keys[j]))
    pairs: list[tuple[str, str, float, int]] = []
    for j, found in band.items():
        pairs += [_pair(keys[j], other, -minus, same) for minus, other in sorted(found)[: linking.pairs_per_claim]]
    for later, offered in sorted(offers.items()):
        kept = _nearest_before(conn, later, offered, linking.pairs_per_claim)
        pairs += [_pair(later, key, -minus, same) for minus, key in kept if key.startswith(f"{vid}/")]
    old = sorted({k for found in linked_to.values() for k in found})
    cluster_of = {}
    for start in range(0, len(old), 500):
        chunk = old[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cluster_of.update(conn.execute(f"SELECT claim_key, cluster FROM claim_clusters WHERE claim_key IN ({marks})",
                                       chunk))  # fmt: skip
    touched = sorted({cluster_of[k] for k in old})
    edges += [(key, cluster_of[k]) for key, found in linked_to.items() for k in found]
    # Nodes: the new claims and the clusters they touch (each already connected inside). A
    # component is named by its smallest member key, and a cluster's name is its smallest key.
    roots = _components([*keys, *touched], edges)
    name: dict[str, str] = {}
    for node, root in roots.items():
        name[root] = min(name.get(root, node), node)
    conn.executemany("INSERT INTO claim_clusters (claim_key, vid, cluster) VALUES (?, ?, ?)",
                     [(key, vid, name[roots[key]]) for key in keys])  # fmt: skip
    for cluster in touched:
        target = name[roots[cluster]]
        if target != cluster:
            conn.execute("UPDATE claim_clusters SET cluster = ? WHERE cluster = ?", (target, cluster))
    conn.executemany("INSERT OR REPLACE INTO claim_pairs (a, b, similarity, negation) VALUES (?, ?, ?, ?)", pairs)
    joined_roots = {roots[c] for c in touched}
    joined = sum(1 for key in keys if roots[key] in joined_roots)
    return Linked(vid, len(keys), joined, max(0, len(touched) - len(joined_roots)), len(pairs))


def clusters(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Each cluster's members, sorted (for rebuild comparisons and the report)."""
    found: dict[str, list[str]] = {}
    for key, cluster in conn.execute("SELECT claim_key, cluster FROM claim_clusters ORDER BY cluster, claim_key"):
        found.setdefault(cluster, []).append(key)
    return found


@dataclass(frozen=True)
class Pair:
    """A candidate pair: two claims of different videos, `a` < `b`."""

    a: str
    b: str
    similarity: float  # cosine
    negation: bool  # at least `link.same` alike, one of them saying no: a claim and its negation


def pairs_of(conn: sqlite3.Connection, vid: str, per_claim: int) -> list[Pair]:
    """The candidate pairs one of whose claims is the video's: for each of its claims at most
    `per_claim`, the most alike first (then by key), whichever video's link made them."""
    prefix = f"{vid}/"
    rows = conn.execute(f"SELECT a, b, similarity, negation FROM claim_pairs WHERE {_OF_VIDEO} "
                        "ORDER BY similarity DESC, a, b", _of_video(vid)).fetchall()  # fmt: skip
    taken: dict[str, int] = {}
    kept = []
    for a, b, similarity, negation in rows:
        own = a if a.startswith(prefix) else b
        if taken.get(own, 0) < per_claim:
            taken[own] = taken.get(own, 0) + 1
            kept.append(Pair(a, b, float(similarity), bool(negation)))
    return kept


def sides(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each claim key's text and its first quote (by time), as stored."""
    found = {}
    for key in sorted(set(keys)):
        vid, claim_id = key.split("/", 1)
        row = conn.execute(
            "SELECT c.claim_text, (SELECT quote FROM evidence q WHERE q.vid = c.vid AND q.owner_kind = 'claim' "
            "AND q.owner_id = c.claim_id ORDER BY q.t0 LIMIT 1) FROM claims c WHERE c.vid = ? AND c.claim_id = ?",
            (vid, claim_id)).fetchone()  # fmt: skip
        if row is not None:
            found[key] = (row[0], row[1] or "")
    return found


def record_judgements(path: str | Path, verdicts: Iterable[tuple[str, str, str, str]], model: str,
                      timeout: float) -> int:  # fmt: skip
    """The judge job's verdicts (a, b, relation, reason) into the database, in one transaction;
    a pair judged again is replaced. Returns how many were written."""
    rows = [(a, b, relation, reason, model) for a, b, relation, reason in verdicts]
    with database.store_job(path, timeout) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO claim_judgements VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(rows)

"""Claims linked across the batch: every accepted claim in a cluster of the claims that say the
same thing, in any video.

A cluster is a connected component of the graph whose edges join two claims at least the
threshold alike (claimflow/knowledge/embed.py: exact integer similarities of int8 vectors).
Components do not depend on the order claims arrive in, so linking one video at a time (each
video's claims against the index, never revisiting the rest of the batch) gives the clusters a
rebuild from the files gives, in any order. A cluster is named by its smallest member key, so
its name is a function of its members too; its canonical text (the best-scored member) is read
from the members, never stored to go stale.

The index lives in the database (`claim_vectors`, 256 bytes a claim: 90 MB at 7,000 videos of
50 claims), in the same transactions as the clusters, so a video's relink (its claims changed)
deletes and adds in one step and nothing can disagree after a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from claimflow.knowledge import embed

DDL = """
CREATE TABLE IF NOT EXISTS claim_vectors (
    claim_key TEXT PRIMARY KEY,          -- <vid>/<claim id>
    vid TEXT NOT NULL,
    vector BLOB NOT NULL                 -- int8 x dim (claimflow/knowledge/embed.py quantize)
);
CREATE INDEX IF NOT EXISTS claim_vectors_vid ON claim_vectors(vid);
CREATE TABLE IF NOT EXISTS claim_clusters (
    claim_key TEXT PRIMARY KEY REFERENCES claim_vectors(claim_key) ON DELETE CASCADE,
    cluster TEXT NOT NULL                -- the smallest member key
);
CREATE INDEX IF NOT EXISTS claim_clusters_cluster ON claim_clusters(cluster);
CREATE TABLE IF NOT EXISTS claim_pairs (  -- near but not the same: for the LLM to judge
    a TEXT NOT NULL, b TEXT NOT NULL,     -- a < b
    similarity REAL NOT NULL,
    PRIMARY KEY (a, b)
);
"""


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
    conn.executescript(DDL)


def _vectors(blobs: Iterable[bytes], dim: int) -> np.ndarray:
    data = b"".join(blobs)
    return np.frombuffer(data, dtype=np.int8).reshape(-1, dim) if data else np.zeros((0, dim), dtype=np.int8)


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


def _unlink(conn: sqlite3.Connection, vid: str, dim: int, threshold: int) -> None:
    """Remove a video's claims; a cluster they held together may fall apart: its remaining
    members' components are recomputed among themselves (the only edges that can have changed)."""
    touched = [row[0] for row in conn.execute(
        "SELECT DISTINCT c.cluster FROM claim_clusters c JOIN claim_vectors v USING (claim_key) WHERE v.vid = ?",
        (vid,))]  # fmt: skip
    conn.execute("DELETE FROM claim_clusters WHERE claim_key IN (SELECT claim_key FROM claim_vectors WHERE vid = ?)",
                 (vid,))  # fmt: skip
    conn.execute("DELETE FROM claim_pairs WHERE a IN (SELECT claim_key FROM claim_vectors WHERE vid = ?) "
                 "OR b IN (SELECT claim_key FROM claim_vectors WHERE vid = ?)", (vid, vid))  # fmt: skip
    conn.execute("DELETE FROM claim_vectors WHERE vid = ?", (vid,))
    for cluster in touched:
        rows = conn.execute("SELECT c.claim_key, v.vector FROM claim_clusters c JOIN claim_vectors v USING (claim_key) "
                            "WHERE c.cluster = ? ORDER BY c.claim_key", (cluster,)).fetchall()  # fmt: skip
        if not rows:
            continue
        keys = [r[0] for r in rows]
        vectors = _vectors((r[1] for r in rows), dim)
        sims = embed.similarity(vectors, vectors)
        edges = [(keys[i], keys[j]) for i, j in zip(*np.nonzero(sims >= threshold), strict=True) if i < j]
        for key, root in _components(keys, edges).items():
            conn.execute("UPDATE claim_clusters SET cluster = ? WHERE claim_key = ?", (root, key))


def link(conn: sqlite3.Connection, vid: str, keys: Sequence[str], vectors: np.ndarray,
         linking: Linking = Linking()) -> Linked:  # fmt: skip
    """Link one video's accepted claims (`keys`, `<vid>/<claim id>`, with their int8 `vectors`)
    into the batch's clusters, replacing whatever the video had linked before. One transaction
    (the caller's connection commits): a crash leaves the previous state whole."""
    dim = vectors.shape[1] if len(vectors) else embed.DIM
    same, near = linking.same_units, linking.near_units
    _unlink(conn, vid, dim, same)
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    keys = [keys[i] for i in order]
    vectors = np.ascontiguousarray(vectors[order]) if len(keys) else vectors
    existing = conn.execute("SELECT claim_key, vector FROM claim_vectors ORDER BY claim_key").fetchall()
    old_keys = [r[0] for r in existing]
    old = _vectors((r[1] for r in existing), dim)
    conn.executemany("INSERT INTO claim_vectors (claim_key, vid, vector) VALUES (?, ?, ?)",
                     [(k, vid, v.tobytes()) for k, v in zip(keys, vectors, strict=True)])  # fmt: skip
    if not keys:
        return Linked(vid, 0, 0, 0, 0)
    cluster_of = dict(conn.execute("SELECT claim_key, cluster FROM claim_clusters"))
    to_old = embed.similarity(old, vectors) if len(old) else np.zeros((0, len(keys)), dtype=np.int32)
    within = embed.similarity(vectors, vectors)
    edges = [(keys[i], keys[j]) for i, j in zip(*np.nonzero(within >= same), strict=True) if i < j]
    touched: set[str] = set()
    pairs: list[tuple[str, str, float]] = []
    for j, key in enumerate(keys):
        column = to_old[:, j]
        for i in np.nonzero(column >= same)[0]:
            cluster = cluster_of[old_keys[i]]
            touched.add(cluster)
            edges.append((key, cluster))
        # The nearest claims of other clusters below the same-claim threshold: candidate pairs.
        band = np.nonzero((column >= near) & (column < same))[0]
        nearest = sorted(band, key=lambda i: (-int(column[i]), old_keys[i]))[: linking.pairs_per_claim]
        pairs += [(min(key, old_keys[i]), max(key, old_keys[i]), float(embed.cosine(int(column[i])))) for i in nearest]
    # Nodes: the new claims and the clusters they touch (each already connected inside).
    roots = _components([*keys, *sorted(touched)], edges)
    members = {c: [r[0] for r in conn.execute("SELECT claim_key FROM claim_clusters WHERE cluster = ?", (c,))]
               for c in touched}  # fmt: skip
    # A component's name: its smallest member key (cluster names are their own smallest keys).
    name: dict[str, str] = {}
    for node, root in roots.items():
        smallest = node if node in keys else min(members[node])
        name[root] = min(name.get(root, smallest), smallest)
    for key in keys:
        conn.execute("INSERT INTO claim_clusters (claim_key, cluster) VALUES (?, ?)", (key, name[roots[key]]))
    for cluster in touched:
        target = name[roots[cluster]]
        if target != cluster:
            conn.execute("UPDATE claim_clusters SET cluster = ? WHERE cluster = ?", (target, cluster))
    merged = max(0, len(touched) - len({roots[c] for c in touched}))
    conn.executemany("INSERT OR REPLACE INTO claim_pairs (a, b, similarity) VALUES (?, ?, ?)", pairs)
    joined = sum(1 for key in keys if roots[key] in {roots[c] for c in touched})
    return Linked(vid, len(keys), joined, merged, len(pairs))


def clusters(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Each cluster's members, sorted (for rebuild comparisons and the report)."""
    found: dict[str, list[str]] = {}
    for key, cluster in conn.execute("SELECT claim_key, cluster FROM claim_clusters ORDER BY cluster, claim_key"):
        found.setdefault(cluster, []).append(key)
    return found

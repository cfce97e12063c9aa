"""Linking claims across a batch of 7,000 videos (claimflow/store/clusters.py): what one video's
link job costs as the index grows, since each reads every claim's vector from the database.

Claims are synthetic (256-dimension int8 vectors near one of a few thousand "claims said in many
videos", or alone): the cost does not depend on what they say, only on how many there are and
how many edges they make. For each size in `sizes` (claims already linked), the database is
filled in bulk to that size, then `probes` videos of `claims` claims are linked one at a time
and timed; the size's figure is their median. Also: the database's size per claim, the job's
peak memory, and at the smallest size a check that linking one video at a time equals the
batch's components (the property the design rests on).

Run: .venv/bin/python benchmarks/link_scale.py [sizes=5000,50000,175000,350000] [claims=50] [probes=5]
"""

from __future__ import annotations

import json
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.knowledge import embed  # noqa: E402
from claimflow.store import clusters  # noqa: E402


def _claims(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    said = rng.random(count) < 0.3  # a third restate a claim other videos make
    rows = rng.normal(size=(count, embed.DIM)).astype(np.float32)
    picks = rng.integers(len(centres), size=count)
    rows[said] = centres[picks[said]] + rng.normal(scale=0.15, size=(int(said.sum()), embed.DIM))
    return embed.quantize(rows)


def _fill(conn: sqlite3.Connection, rng: np.random.Generator, centres: np.ndarray, size: int, claims: int) -> None:
    """Bulk-load videos of `claims` claims up to `size` claims (each claim its own cluster: the
    cost measured is the index's read and the search, which do not depend on the clusters)."""
    have = conn.execute("SELECT COALESCE(SUM(claims), 0) FROM video_vectors").fetchone()[0]
    videos, members = [], []
    for n in range(have // claims, size // claims):
        vid = f"bulk{n:05d}"
        ids = [f"c{c:03d}" for c in range(claims)]
        videos.append((vid, json.dumps(ids), claims, _claims(rng, centres, claims).tobytes(), embed.WORDLLAMA.identity))
        members += [(f"{vid}/{c}", vid, f"{vid}/{c}") for c in ids]
    conn.executemany("INSERT INTO video_vectors (vid, claim_ids, claims, vectors, model) VALUES (?, ?, ?, ?, ?)",
                     videos)  # fmt: skip
    conn.executemany("INSERT INTO claim_clusters (claim_key, vid, cluster) VALUES (?, ?, ?)", members)
    conn.commit()


def main(sizes: str = "5000,50000,175000,350000", claims: int = 50, probes: int = 5) -> None:
    rng = np.random.default_rng(26)
    centres = rng.normal(size=(3000, embed.DIM)).astype(np.float32)
    linking = clusters.Linking()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "claimflow.sqlite"
        conn = sqlite3.connect(database)
        conn.execute("PRAGMA journal_mode=WAL")
        clusters.create(conn)
        for size in (int(s) for s in sizes.split(",")):
            _fill(conn, rng, centres, size, claims)
            took = []
            for probe in range(probes):
                vid = f"probe{size}-{probe}"
                keys = [f"{vid}/c{n:03d}" for n in range(claims)]
                vectors = _claims(rng, centres, claims)
                started = time.perf_counter()
                linked = clusters.link(conn, vid, keys, vectors, linking)
                conn.commit()
                took.append(time.perf_counter() - started)
            mb = database.stat().st_size / 1e6
            print(f"{size:>7} claims linked: one video of {claims} claims links in {statistics.median(took):.3f} s "
                  f"(median of {probes}; its last joined {linked.joined} to other videos, {linked.pairs} pairs); "
                  f"database {mb:.0f} MB ({mb * 1e6 / size:.0f} B a claim)")  # fmt: skip
        conn.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")
    # The design's property, at a small size: a video at a time equals the batch's components.
    small = {f"v{v:03d}": _claims(rng, centres[:40], 20) for v in range(60)}
    orders = [sorted(small), sorted(small, reverse=True)]
    found = []
    for order in orders:
        conn = sqlite3.connect(":memory:")
        clusters.create(conn)
        for vid in order:
            clusters.link(conn, vid, [f"{vid}/c{n:03d}" for n in range(20)], small[vid], linking)
        found.append(clusters.clusters(conn))
    sizes_found = sorted((len(m) for m in found[0].values()), reverse=True)[:5]
    print(
        f"1,200 claims in two orders: the same clusters: {found[0] == found[1]} "
        f"({len(found[0])} clusters, the largest {sizes_found})"
    )


if __name__ == "__main__":
    main(*(int(a) if i else a for i, a in enumerate(sys.argv[1:])))

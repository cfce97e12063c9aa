"""Where the claim index lives, by measurement: the exact int8 product over one row per video
(claimflow/store/clusters.py: what a link job does) against sqlite-vec's `vec0` table in the same
SQLite file (its brute-force KNN, int8 vectors, one row per claim).

For each size (claims already indexed), both indexes are filled with the same synthetic 256-d
int8 vectors, then `probes` videos of 50 claims each are queried: ours finds every claim above
the link threshold (what clustering needs) and the nearest `k` for the pairs; sqlite-vec the
nearest `k` of each claim. Reported: the median seconds per video, the bulk fill time, the file
size per claim, and whether sqlite-vec's k nearest equal ours.

Run with a Python whose sqlite3 loads extensions (pyenv's default build, this machine's, does not:
its connections have no enable_load_extension; Debian's does), sqlite-vec and numpy on its path:
    PYTHONPATH=DIR /usr/bin/python3 benchmarks/index_choice.py [sizes=10000,100000,350000]
"""

from __future__ import annotations

import json
import os
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

PER_VIDEO = 50
K = 10


def _vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    return embed.quantize(rng.normal(size=(count, embed.DIM)).astype(np.float32))


def _ours(path: Path, vectors: np.ndarray) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE video_vectors (vid TEXT PRIMARY KEY, claim_ids TEXT, claims INTEGER, vectors BLOB)")
    for n, start in enumerate(range(0, len(vectors), PER_VIDEO)):
        block = vectors[start : start + PER_VIDEO]
        ids = json.dumps([f"c{i:03d}" for i in range(len(block))])
        conn.execute("INSERT INTO video_vectors VALUES (?, ?, ?, ?)", (f"v{n:05d}", ids, len(block), block.tobytes()))
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def _query_ours(path: Path, queries: np.ndarray) -> tuple[float, list[list[int]]]:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    data = b"".join(r[0] for r in conn.execute("SELECT vectors FROM video_vectors ORDER BY vid"))
    rows = np.frombuffer(data, dtype=np.int8).reshape(-1, embed.DIM)
    sims = embed.similarity(rows, queries)
    same = embed.threshold_units(0.90)
    _above = [np.nonzero(sims[:, j] >= same)[0] for j in range(sims.shape[1])]
    nearest = [list(np.argsort(-sims[:, j], kind="stable")[:K]) for j in range(sims.shape[1])]
    conn.close()
    return time.perf_counter() - started, nearest


def _vec(path: Path, vectors: np.ndarray, sqlite_vec) -> float:  # noqa: ANN001
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute(f"CREATE VIRTUAL TABLE claim_vec USING vec0(embedding int8[{embed.DIM}] distance_metric=cosine)")
    conn.executemany("INSERT INTO claim_vec(rowid, embedding) VALUES (?, vec_int8(?))",
                     ((i, v.tobytes()) for i, v in enumerate(vectors)))  # fmt: skip
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def _query_vec(path: Path, queries: np.ndarray, sqlite_vec) -> tuple[float, list[list[int]]]:  # noqa: ANN001
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    nearest = []
    for q in queries:
        found = conn.execute("SELECT rowid FROM claim_vec WHERE embedding MATCH vec_int8(?) AND k = ? "
                             "ORDER BY distance", (q.tobytes(), K)).fetchall()  # fmt: skip
        nearest.append([r[0] for r in found])
    conn.close()
    return time.perf_counter() - started, nearest


def main() -> None:
    import sqlite_vec

    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000,350000").split(",")]
    probes = 3
    rng = np.random.default_rng(5)
    for size in sizes:
        vectors = _vectors(rng, size)
        with tempfile.TemporaryDirectory() as tmp:
            ours_db, vec_db = Path(tmp) / "ours.sqlite", Path(tmp) / "vec.sqlite"
            fill_ours, fill_vec = _ours(ours_db, vectors), _vec(vec_db, vectors, sqlite_vec)
            ours_t, vec_t, agree = [], [], []
            for p in range(probes):
                queries = vectors[p * PER_VIDEO : (p + 1) * PER_VIDEO]
                t1, mine = _query_ours(ours_db, queries)
                t2, theirs = _query_vec(vec_db, queries, sqlite_vec)
                ours_t.append(t1)
                vec_t.append(t2)
                agree.append(np.mean([len(set(map(int, a)) & set(b)) / K for a, b in zip(mine, theirs, strict=True)]))
            print(json.dumps({
                "claims": size,
                "ours_s_per_video": round(statistics.median(ours_t), 3),
                "sqlite_vec_s_per_video": round(statistics.median(vec_t), 3),
                "ratio_vec_to_ours": round(statistics.median(vec_t) / statistics.median(ours_t), 2),
                "fill_s": {"ours": round(fill_ours, 2), "sqlite_vec": round(fill_vec, 2)},
                "bytes_per_claim": {"ours": round(os.path.getsize(ours_db) / size),
                                    "sqlite_vec": round(os.path.getsize(vec_db) / size)},
                "nearest_k_agree": round(float(np.mean(agree)), 3),
            }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

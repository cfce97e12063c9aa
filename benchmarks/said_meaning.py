"""The search by meaning over what was said (claimflow/store/said.py) at a batch's scale: 7,000
videos x 600 segments (4.2 million), the rows of benchmarks/corpus_scale.py loaded in bulk.

It measures:
- coding: every video's segments coded by the bundled model (`said.code_stored`), videos a second;
- search p95 and median over 50 queries (of sentences of the STS-B and SICK test sets), as
  `claimflow search --said --meaning` calls it (the model already loaded), at `said.RERANK`;
- recall@20 against the exact search (every segment's float vector multiplied with the query:
  the 20 best cosines), for shortlists (by the codes' first 128 bits) of 2,000 to 16,000 and
  rerank sizes (by all 256 bits) of 100 to 1,000. A segment counts as found when its cosine
  reaches the exact 20th best (the sentences repeat: ties are many). The queries are sentences'
  content words ("man playing guitar"), as people type them: in no segment word for word.

Run: .venv/bin/python benchmarks/said_meaning.py /var/tmp/corpus.sqlite [videos=7000]
(the file is made by corpus_scale.bulk when missing, about 3 min; coding 4.2 million segments
takes about 10 min on one core and the exact search as long again).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import corpus_scale  # noqa: E402

from claimflow.knowledge import embed  # noqa: E402
from claimflow.store import query, said  # noqa: E402

K = 20
# A query as people type one: a sentence's content words ("man playing guitar"), so it is in no
# segment word for word and its nearest are near, not the same text.
STOPWORDS = frozenset({"a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "of", "on", "in", "at",
                       "to", "into", "with", "by", "for", "and", "or", "while", "his", "her", "their", "its", "it",
                       "this", "that", "there", "some"})  # fmt: skip


def keywords(sentence: str) -> str:
    return " ".join(w for w in sentence.lower().replace(",", " ").split() if w not in STOPWORDS)


def exact(database: Path, coder: embed.Embedder, queries: np.ndarray) -> np.ndarray:
    """Each query's K best cosines over every segment (queries x K, best first)."""
    conn = query.connect(database)
    vids = [row[0] for row in conn.execute("SELECT vid FROM videos ORDER BY vid")]
    best = np.full((len(queries), K), -2.0, dtype=np.float32)
    for start in range(0, len(vids), 64):
        group = vids[start : start + 64]
        texts = [row[0] or "" for row in conn.execute(
            f"SELECT text FROM segments WHERE vid IN ({', '.join('?' for _ in group)})", group)]  # fmt: skip
        cosines = coder.embed(texts) @ queries.T  # segments x queries
        best = -np.sort(-np.concatenate([best, cosines.T], axis=1), axis=1)[:, :K]
    conn.close()
    return best


def main(database: Path, videos: int = 7000) -> None:
    if not database.exists():
        corpus_scale.bulk(database, videos)
    coder = embed.WordLlamaEmbedder(embed.WORDLLAMA)
    started = time.perf_counter()
    coded = said.code_stored(database, coder)
    if coded:
        elapsed = time.perf_counter() - started
        print(f"coded {coded} videos in {elapsed:.0f} s: {coded / elapsed:.1f} videos a second")
    asks = [keywords(s) for s in random.Random(28).sample(corpus_scale._sentences(), 50)]
    conn = query.connect(database)
    seconds, found = [], {}
    for ask in asks:
        begun = time.perf_counter()
        found[ask] = said.nearest(conn, coder, ask, K)
        seconds.append(time.perf_counter() - begun)
    print(f"search said by meaning (rerank {said.RERANK}): p95 {np.percentile(seconds, 95) * 1000:.0f} ms, "
          f"median {statistics.median(seconds) * 1000:.0f} ms ({len(asks)} queries)")  # fmt: skip
    cached = database.with_name(f"{database.name}.exact-{K}.npy")  # the exact search: 10 min, done once
    if cached.exists():
        exact_best = np.load(cached)
    else:
        exact_best = exact(database, coder, coder.embed(asks))
        np.save(cached, exact_best)
    for shortlist, rerank in ((4000, 100), (4000, 300), (4000, 500), (4000, 1000), (16000, 500)):
        said.SHORTLIST, said.RERANK = shortlist, rerank
        recalls, seconds = [], []
        for ask, truth in zip(asks, exact_best, strict=True):
            begun = time.perf_counter()
            hits = said.nearest(conn, coder, ask, K)
            seconds.append(time.perf_counter() - begun)
            recalls.append(sum(hit.similarity >= truth[-1] - 1e-5 for hit in hits) / K)
        print(f"shortlist {shortlist} by 128 bits, rerank {rerank} by 256 bits: recall@{K} "
              f"{statistics.mean(recalls):.3f} (worst {min(recalls):.2f}), p95 {np.percentile(seconds, 95) * 1000:.0f} "
              f"ms, median {statistics.median(seconds) * 1000:.0f} ms")  # fmt: skip
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:]))

"""The knowledge layer at a batch's scale (issue 26's numbers): 7,000 videos x 50 accepted claims
(350,000) and 600 transcript segments each (4.2 million), in real sentences.

The text is real English: sentences of the SICK and STS-B test sets (../shared/wild/similarity,
about 11,000 distinct), a third of the claims restating one of 3,000 claims other videos make
(a recurring sentence), the rest a sentence joined to another by a connective, so almost every
claim is its own; segments are one or two such sentences. Each video is stored by the store
stage's own upsert (its triggers fill the segments' full-text index), its claims embedded by the
bundled model (wordllama, the default `link.embedding`), then:

- rebuild: the link tables remade from the 7,000 records in one process (clusters.rebuild), and
  the segments' full-text index rebuilt (FTS5 'rebuild');
- link one new video against the 350,000 claims as a link job does (a new connection, the
  index read from the database, one transaction), median and worst of `probes`;
- search p95 over 50 queries each: words in claims (`claimflow search`), words in what was said
  (`claimflow search --said`), and by meaning (`--meaning`), as the library calls them (a CLI
  call adds its process start);
- the report of the whole batch: its size, and headless Chromium renders it without errors.

Run: .venv/bin/python benchmarks/corpus_scale.py [videos=7000] [claims=50] [segments=600] [probes=5]
(about 50 min on 2 cores at 7,000, most of it the store's upsert; the database takes about 1 GB
in a temporary folder). The search figures alone, on the same rows loaded in bulk (minutes):
.venv/bin/python benchmarks/corpus_scale.py --search /var/tmp/corpus.sqlite [videos=7000]
(the file is kept, and searched again as it is on the next call).
"""

from __future__ import annotations

import csv
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.commands import report  # noqa: E402
from claimflow.core import config as cf_config  # noqa: E402
from claimflow.knowledge import embed  # noqa: E402
from claimflow.store import clusters, query  # noqa: E402
from claimflow.store import database as store  # noqa: E402

WILD = REPO.parent / "shared" / "wild" / "similarity"
CONNECTIVES = ("because", "and", "while", "so", "although", "since", "after", "before")
NAMES = [f"{first} {last}" for first in ("Jane", "Omar", "Li", "Maria", "Sam", "Ana", "Raj", "Eve")
         for last in ("Smith", "Okafor", "Chen", "Garcia", "Novak", "Silva", "Patel", "Kim")]  # fmt: skip


def _sentences() -> list[str]:
    found = set()
    for name in ("sick_test.tsv", "stsb_test.tsv"):
        with open(WILD / name, encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                found.update(s.strip().rstrip(".") for s in (row["sentence1"], row["sentence2"]) if s and s.strip())
    return sorted(found)


def _video_rows(rng: random.Random, n: int, pool: list[str], recurring: list[str], claims: int,
                segments: int, vid: str | None = None) -> dict[str, list[dict]]:  # fmt: skip
    vid = vid or f"v{n:05d}"
    said = []
    for s in range(segments):
        text = rng.choice(pool) + "." + (" " + rng.choice(pool) + "." if rng.random() < 0.5 else "")
        said.append({"vid": vid, "segment_id": s, "start": 6.0 * s, "end": 6.0 * s + 6, "text": text})
    rows: dict[str, list[dict]] = {t: [] for t in store.VIDEO_TABLES}
    year = 2015 + n * 10 // 7000
    rows["videos"].append({"vid": vid, "status": "ok", "title": f"Episode {n}: {rng.choice(pool)}",
                           "channel": f"channel{n % 40:02d}", "duration": 3600.0,
                           "upload_date": f"{year}{1 + n % 12:02d}{1 + n % 28:02d}",
                           "source": f"https://www.youtube.com/watch?v=x{n:010d}",
                           "stored_at": time.time()})  # fmt: skip
    rows["segments"] = said
    for c in range(claims):
        cid = f"c{c:03d}"
        if rng.random() < 1 / 3:
            text = rng.choice(recurring) + "."
        else:
            text = f"{rng.choice(pool)} {rng.choice(CONNECTIVES)} {rng.choice(pool).lower()}."
        moment = said[rng.randrange(segments)]
        score = round(rng.random(), 3)
        rows["claims"].append({"vid": vid, "claim_id": cid, "claim_text": text, "claim_type": "factual",
                               "domain": "general", "stance": "asserts", "supported": 1, "window": 0})  # fmt: skip
        rows["evaluations"].append({"vid": vid, "claim_id": cid, "decision": "accept", "score": score,
                                    "tier": "A" if score > 0.8 else "B" if score > 0.5 else "C",
                                    "rank": c + 1})  # fmt: skip
        rows["evidence"].append({"vid": vid, "owner_kind": "claim", "owner_id": cid, "segment_id": moment["segment_id"],
                                 "quote": moment["text"], "t0": moment["start"], "t1": moment["end"],
                                 "match": "exact", "score": 1.0})  # fmt: skip
    for p, name in enumerate(rng.sample(NAMES, 3), start=1):
        rows["people"].append({"vid": vid, "item_id": f"p{p:03d}", "name": ("Dr. " if p == 1 else "") + name,
                               "entity_type": "person", "role": "guest"})  # fmt: skip
    return rows


def _p95(seconds: list[float]) -> float:
    return float(np.percentile(seconds, 95))


def main(videos: int = 7000, claims: int = 50, segments: int = 600, probes: int = 5) -> None:
    rng = random.Random(26)
    pool = _sentences()
    recurring = rng.sample(pool, min(3000, len(pool) // 3))
    model = embed.embedder("wordllama")
    print(f"{len(pool)} distinct sentences; {videos} videos x {claims} claims, {segments} segments each")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        results = Path(tmp) / "results"
        database = results / "claimflow.sqlite"
        results.mkdir()
        store.ensure(database)
        conn = store.connect(database)
        started = time.perf_counter()
        texts: dict[str, list[tuple[str, str]]] = {}
        for n in range(videos):
            rows = _video_rows(rng, n, pool, recurring, claims, segments)
            store.upsert(conn, rows["videos"][0]["vid"], rows)
            texts[rows["videos"][0]["vid"]] = [(c["claim_id"], c["claim_text"]) for c in rows["claims"]]
        stored = time.perf_counter() - started
        print(f"stored {videos} videos by the store's upsert in {stored:.0f} s; "
              f"database {database.stat().st_size / 1e9:.2f} GB")  # fmt: skip

        started = time.perf_counter()
        records = []
        for vid, found in texts.items():
            vectors = embed.quantize(model.embed([t for _, t in found]))
            records.append(embed.Record(vid, model.model.identity, tuple(c for c, _ in found), vectors))
        embedded = time.perf_counter() - started
        print(f"embedded {videos * claims} claims in {embedded:.0f} s (the embed jobs' work, per video on any node)")

        linking = clusters.Linking()
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        linked = clusters.rebuild(conn, records, linking)
        conn.execute("COMMIT")
        relinked = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("INSERT INTO segments_fts (segments_fts) VALUES ('rebuild')")
        conn.commit()
        reindexed = time.perf_counter() - started
        found = conn.execute("SELECT COUNT(*), COUNT(DISTINCT cluster) FROM claim_clusters").fetchone()
        several = conn.execute("SELECT COUNT(*) FROM (SELECT cluster FROM claim_clusters GROUP BY cluster "
                               "HAVING COUNT(DISTINCT vid) > 1)").fetchone()[0]  # fmt: skip
        pairs = conn.execute("SELECT COUNT(*) FROM claim_pairs").fetchone()[0]
        conn.close()
        print(f"rebuild: clusters and pairs in {relinked:.0f} s ({found[0]} claims in {found[1]} clusters, "
              f"{several} of them in several videos, {pairs} candidate pairs, {sum(v.joined for v in linked)} "
              f"claims joined to other videos); segments' full-text index in {reindexed:.0f} s; "
              f"rebuild total {relinked + reindexed:.0f} s "
              f"(with the store's refill {stored + relinked + reindexed:.0f} s)")  # fmt: skip

        took = []
        for probe in range(probes):
            rows = _video_rows(rng, videos + probe, pool, recurring, claims, segments)
            vid = rows["videos"][0]["vid"]
            conn = store.connect(database)
            store.upsert(conn, vid, rows)
            conn.close()
            vectors = embed.quantize(model.embed([c["claim_text"] for c in rows["claims"]]))
            record = embed.Record(vid, model.model.identity, tuple(c["claim_id"] for c in rows["claims"]), vectors)
            started = time.perf_counter()
            one = clusters.link_record(database, record, linking, timeout=60)
            took.append(time.perf_counter() - started)
        print(f"link one new video ({claims} claims) against {videos * claims} claims: median "
              f"{statistics.median(took):.2f} s, worst {max(took):.2f} s of {probes} "
              f"(its last joined {one.joined} to other videos, {one.pairs} pairs)")  # fmt: skip

        # A video whose id falls among the batch's (linked late: the later videos' claims keep
        # their places among the videos before theirs, and it may take some), and a video of
        # the batch linked again with other claims (the places its old claims held refilled).
        for kind in ("linked among the batch", "relinked with other claims"):
            took = []
            for probe in range(probes):
                n = videos * (probe + 1) // (probes + 1)
                vid = f"v{n:05d}m" if kind.startswith("linked") else f"v{n:05d}"
                rows = _video_rows(rng, n, pool, recurring, claims, segments, vid=vid)
                conn = store.connect(database)
                store.upsert(conn, vid, rows)
                conn.close()
                vectors = embed.quantize(model.embed([c["claim_text"] for c in rows["claims"]]))
                record = embed.Record(vid, model.model.identity, tuple(c["claim_id"] for c in rows["claims"]),
                                      vectors)  # fmt: skip
                started = time.perf_counter()
                one = clusters.link_record(database, record, linking, timeout=60)
                took.append(time.perf_counter() - started)
            print(f"link one video {kind}: median {statistics.median(took):.2f} s, worst {max(took):.2f} s of "
                  f"{probes} (its last: {one.pairs} pairs)")  # fmt: skip

        searches(database, rng, pool, model)

        config = cf_config.load([REPO / "config" / "config.yaml"])
        vids = [f"v{n:05d}" for n in range(videos + probes)]
        out = results / "report.html"
        started = time.perf_counter()
        report.build(config, vids, results, out)
        made = time.perf_counter() - started
        print(f"report of {len(vids)} videos: {out.stat().st_size / 1e6:.2f} MB, made in {made:.0f} s")
        # In a fresh process: the Chromium harness's fd wiring fails in this one after BLAS and
        # the embedding library have opened theirs (EBADF at spawn).
        shown = subprocess.run([sys.executable, __file__, "--render", str(out)], capture_output=True, text=True,
                               check=False, cwd=REPO)  # fmt: skip
        print(shown.stdout.strip() or shown.stderr.strip()[-2000:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


def searches(database: Path, rng: random.Random, pool: list[str], model: embed.Embedder) -> None:
    """Search p95 over 50 queries each: 25 words of five letters or more from the sentences (some
    said in a sixth of all segments: "woman") and 25 two-word phrases."""
    words = [w for s in rng.sample(pool, 200) for w in re.findall(r"[a-z]{5,}", s.lower())]
    phrases = [f'"{a} {b}"' for a, b in zip(words[::2], words[1::2], strict=False)]
    asks = rng.sample(words, 25) + rng.sample(phrases, 25)
    for name, run in (("words in claims", lambda q: query.search(database, q)),
                      ("words said", lambda q: query.said(database, q)),
                      ("by meaning", lambda q: query.meaning(database, q.strip('"'), model))):  # fmt: skip
        seconds, hits = [], 0
        for ask in asks:
            started = time.perf_counter()
            hits += bool(run(ask))
            seconds.append(time.perf_counter() - started)
        print(f"search {name}: p95 {_p95(seconds) * 1000:.0f} ms, median {statistics.median(seconds) * 1000:.0f} ms "
              f"({len(asks)} queries, {hits} with results)")  # fmt: skip


def bulk(database: Path, videos: int, claims: int = 50, segments: int = 600) -> None:
    """The same batch's rows (the same random draws as `main`) loaded in bulk for the search
    figures alone: a transaction per 500 videos, the segments' full-text index filled once at
    the end, each video's vectors stored as a link job would (no clusters). Minutes, where the
    store's upsert a video at a time takes most of an hour at 7,000."""
    rng = random.Random(26)
    pool = _sentences()
    recurring = rng.sample(pool, min(3000, len(pool) // 3))
    model = embed.embedder("wordllama")
    store.ensure(database)
    conn = store.connect(database)
    for trigger in ("segments_fts_insert", "segments_fts_delete", "segments_fts_update"):
        conn.execute(f"DROP TRIGGER {trigger}")
    started = time.perf_counter()
    conn.execute("BEGIN")
    for n in range(videos):
        rows = _video_rows(rng, n, pool, recurring, claims, segments)
        vid = rows["videos"][0]["vid"]
        for table in store.VIDEO_TABLES:
            store._insert(conn, table, rows.get(table, []))
        vectors = embed.quantize(model.embed([c["claim_text"] for c in rows["claims"]]))
        conn.execute("INSERT INTO video_vectors (vid, claim_ids, claims, vectors, model) VALUES (?, ?, ?, ?, ?)",
                     (vid, json.dumps([c["claim_id"] for c in rows["claims"]]), len(vectors), vectors.tobytes(),
                      model.model.identity))  # fmt: skip
        if n % 500 == 499:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    for statement in store.SEGMENTS_FTS:  # the triggers back, and the index filled from the segments
        conn.execute(statement)
    conn.close()
    print(f"loaded {videos} videos in bulk in {time.perf_counter() - started:.0f} s; "
          f"database {database.stat().st_size / 1e9:.2f} GB")  # fmt: skip


def render(page: str) -> None:
    from tests.harness import browser

    if browser.find() is None:
        print("report not rendered: no Chromium here (Debian: apt-get install chromium)")
        return
    with browser.Browser() as chromium:
        started = time.perf_counter()
        chromium.open(Path(page).resolve().as_uri())
        rendered = time.perf_counter() - started
        rows = chromium.evaluate("document.querySelectorAll('tr').length")
        sections = chromium.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        print(f"rendered in headless Chromium in {rendered:.1f} s: {rows} table rows, sections {sections}, "
              f"errors: {chromium.errors or 'none'}")  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["--render"]:
    render(sys.argv[2])
elif __name__ == "__main__" and sys.argv[1:2] == ["--search"]:  # --search DATABASE [videos]: bulk, then search
    target = Path(sys.argv[2])
    if not target.exists():
        bulk(target, int(sys.argv[3]) if len(sys.argv) > 3 else 7000)
    searches(target, random.Random(27), _sentences(), embed.embedder("wordllama"))
elif __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

"""Claims linked across videos (claimflow/store/clusters.py): linking a video at a time gives the
clusters the whole batch's components give, in any order of arrival and after a relink."""

from __future__ import annotations

import sqlite3

import numpy as np

from claimflow.knowledge import embed
from claimflow.store import clusters


def _batch(
    videos: int = 12, claims: int = 6, topics: int = 10, seed: int = 7
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Claims near one of `topics` directions (the same claim said in several videos) or alone."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, embed.DIM))
    batch = {}
    for v in range(videos):
        vid = f"v{v:02d}"
        rows = []
        for _ in range(claims):
            if rng.random() < 0.6:
                rows.append(centres[rng.integers(topics)] + rng.normal(scale=0.35, size=embed.DIM))
            else:
                rows.append(rng.normal(size=embed.DIM))
        batch[vid] = ([f"{vid}/{c}" for c in range(claims)], embed.quantize(np.array(rows, dtype=np.float32)))
    return batch


def _linked(batch: dict, order: list[str], linking: clusters.Linking) -> dict[str, list[str]]:
    conn = sqlite3.connect(":memory:")
    clusters.create(conn)
    for vid in order:
        keys, vectors = batch[vid]
        clusters.link(conn, vid, keys, vectors, linking)
    return clusters.clusters(conn)


def _components(batch: dict, linking: clusters.Linking) -> dict[str, list[str]]:
    keys = [k for vid in sorted(batch) for k in batch[vid][0]]
    vectors = np.concatenate([batch[vid][1] for vid in sorted(batch)])
    sims = embed.similarity(vectors, vectors)
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(sims >= linking.same_units), strict=True):
        parent[find(i)] = find(j)
    groups: dict[int, list[str]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(find(i), []).append(key)
    return {min(g): sorted(g) for g in groups.values()}


def test_linking_a_video_at_a_time_gives_the_batchs_components_in_any_order():
    batch = _batch()
    linking = clusters.Linking(same=0.6, near=0.3)
    whole = _components(batch, linking)
    assert max(len(m) for m in whole.values()) >= 4 and len(whole) < sum(len(k) for k, _ in batch.values())
    forwards = _linked(batch, sorted(batch), linking)
    backwards = _linked(batch, sorted(batch, reverse=True), linking)
    shuffled = _linked(batch, list(np.random.default_rng(1).permutation(sorted(batch))), linking)
    assert forwards == backwards == shuffled == whole


def test_a_rebuild_in_one_process_gives_the_clusters_of_link_jobs_and_the_pairs_of_jobs_in_id_order(monkeypatch):
    batch = _batch(videos=20, claims=8)
    # A topic's claims are 0.85 to 0.92 alike: both clusters and pairs, some claims with more
    # near claims than `pairs_per_claim`.
    linking = clusters.Linking(same=0.9, near=0.8, pairs_per_claim=2)
    records = [embed.Record(vid, embed.WORDLLAMA.identity, tuple(k.split("/")[1] for k in keys), vectors)
               for vid, (keys, vectors) in batch.items()]  # fmt: skip

    def tables(conn):
        return (clusters.clusters(conn),
                conn.execute("SELECT a, b, similarity, negation FROM claim_pairs ORDER BY a, b").fetchall(),
                conn.execute("SELECT vid, claim_ids, vectors, model FROM video_vectors ORDER BY vid")
                .fetchall())  # fmt: skip

    in_order = sqlite3.connect(":memory:")
    clusters.create(in_order)
    for vid in sorted(batch):
        clusters.link(in_order, vid, *batch[vid], linking)
    shuffled = sqlite3.connect(":memory:")
    clusters.create(shuffled)
    for vid in np.random.default_rng(3).permutation(sorted(batch)):
        clusters.link(shuffled, str(vid), *batch[str(vid)], linking)
    shuffled.execute("INSERT INTO claim_judgements (a, b, relation) VALUES ('v00/0', 'v01/0', 'supports')")
    # Videos a product at a time, two at a time (8 + 8 claims), and all 20 in one.
    for group_claims in (1, 20, clusters.GROUP_CLAIMS):
        monkeypatch.setattr(clusters, "GROUP_CLAIMS", group_claims)
        linked = clusters.rebuild(shuffled, reversed(records), linking)  # the order given does not matter
        assert [v.vid for v in linked] == sorted(batch) and sum(v.claims for v in linked) == 160
        assert tables(shuffled) == tables(in_order), group_claims
    assert tables(shuffled)[0] == _components(batch, linking)
    assert tables(shuffled)[1]  # pairs were made
    assert shuffled.execute("SELECT COUNT(*) FROM claim_judgements").fetchone()[0] == 1  # verdicts are kept


def test_the_pairs_are_the_batchs_whatever_order_the_videos_are_linked_in_and_after_relinks():
    batch = _batch(videos=20, claims=8)
    linking = clusters.Linking(same=0.9, near=0.8, pairs_per_claim=2)

    def records(videos: dict) -> list[embed.Record]:
        return [embed.Record(vid, embed.WORDLLAMA.identity, tuple(k.split("/")[1] for k in keys), vectors)
                for vid, (keys, vectors) in videos.items()]  # fmt: skip

    def relations(conn) -> tuple:
        pairs = conn.execute("SELECT a, b, similarity, negation FROM claim_pairs ORDER BY a, b").fetchall()
        return clusters.clusters(conn), pairs

    rebuilt = sqlite3.connect(":memory:")
    clusters.create(rebuilt)
    clusters.rebuild(rebuilt, records(batch), linking)
    expected = relations(rebuilt)
    # The bound binds: some claim has more near claims of earlier videos than its two places.
    vectors = np.concatenate([batch[v][1] for v in sorted(batch)])
    near = (embed.similarity(vectors, vectors) >= linking.near_units).sum(axis=1) - 1
    assert near.max() > 2 * linking.pairs_per_claim and len(expected[1]) > 20
    for seed in (3, 4, 5):
        conn = sqlite3.connect(":memory:")
        clusters.create(conn)
        for vid in np.random.default_rng(seed).permutation(sorted(batch)):
            clusters.link(conn, str(vid), *batch[str(vid)], linking)
        assert relations(conn) == expected, seed
    # One video re-mined (its claims now those of another video, shifted), one with no claim
    # left: the pairs of the batch as it now is, as a rebuild of it gives.
    changed = dict(batch)
    changed["v05"] = ([f"v05/{c}" for c in range(8)], batch["v12"][1])
    changed["v09"] = ([], np.zeros((0, embed.DIM), np.int8))
    clusters.link(conn, "v05", *changed["v05"], linking)
    clusters.link(conn, "v09", *changed["v09"], linking)
    again = sqlite3.connect(":memory:")
    clusters.create(again)
    clusters.rebuild(again, records({v: kv for v, kv in changed.items() if kv[0]}), linking)
    assert relations(conn) == relations(again) != expected


def test_a_relinked_video_leaves_the_clusters_a_batch_without_its_old_claims_has():
    batch = _batch(seed=11)
    linking = clusters.Linking(same=0.6, near=0.3)
    conn = sqlite3.connect(":memory:")
    clusters.create(conn)
    for vid in sorted(batch):
        clusters.link(conn, vid, *batch[vid], linking)
    # The video that holds clusters together re-mined: its claims now say nothing the others say.
    bridge = max(batch, key=lambda vid: len({c for c in clusters.clusters(conn) if c.startswith(vid)}))
    lone = embed.quantize(np.random.default_rng(3).normal(size=(2, embed.DIM)).astype(np.float32))
    changed = dict(batch) | {bridge: ([f"{bridge}/a", f"{bridge}/b"], lone)}
    clusters.link(conn, bridge, *changed[bridge], linking)
    assert clusters.clusters(conn) == _components(changed, linking)


def test_a_new_embedding_model_relinks_video_by_video_never_comparing_the_two_models():
    """link.embedding changed mid-batch: each video's link job reruns in its own time. The videos
    relinked so far are the new model's clusters, the rest keep the old model's, and at the end
    the clusters are the new model's own (as a batch linked under it alone)."""
    old, linking = _batch(seed=13), clusters.Linking(same=0.6, near=0.3)
    # The new model: the same claims, other vectors of other dimensions (128, as wordllama-128).
    new = {
        vid: (keys, embed.quantize(vectors[:, :128].astype(np.float32)))
        for vid, (keys, vectors) in _batch(seed=29).items()
    }
    conn = sqlite3.connect(":memory:")
    clusters.create(conn)
    for vid in sorted(old):
        clusters.link(conn, vid, *old[vid], linking, model=embed.WORDLLAMA.identity)
    assert clusters.clusters(conn) == _components(old, linking)
    relinked = sorted(old)[:5]
    for vid in relinked:
        clusters.link(conn, vid, *new[vid], linking, model=embed.WORDLLAMA_128.identity)
    rest = {vid: old[vid] for vid in old if vid not in relinked}
    midway = _components({vid: new[vid] for vid in relinked}, linking) | _components(rest, linking)
    assert clusters.clusters(conn) == midway
    assert clusters.Index(conn, 128, embed.WORDLLAMA_128.identity).vids == relinked
    for vid in sorted(old)[5:]:
        clusters.link(conn, vid, *new[vid], linking, model=embed.WORDLLAMA_128.identity)
    assert clusters.clusters(conn) == _components(new, linking) != _components(old, linking)
    assert not clusters.Index(conn, embed.DIM, embed.WORDLLAMA.identity).vids


def test_similarities_are_exact_integers_and_the_threshold_is_in_their_units():
    rng = np.random.default_rng(0)
    vectors = embed.quantize(rng.normal(size=(300, embed.DIM)).astype(np.float32))
    exact = vectors.astype(np.int64) @ vectors.astype(np.int64).T
    assert (embed.similarity(vectors, vectors, chunk=7) == exact).all()
    assert embed.threshold_units(0.8) == int(np.ceil(0.8 * 127 * 127))
    assert abs(embed.cosine(int(exact[0, 0])) - 1.0) < 0.01  # a unit vector with itself
    small = vectors[:40]  # made in integers, not by BLAS
    assert (embed.similarity(small, small) == exact[:40, :40]).all()
    assert (embed.similarity(vectors, vectors[7:8]) == exact[:, 7:8]).all()  # one query: in integers too


def test_the_nearest_are_those_a_stable_sort_gives_first_ties_by_row():
    units = np.random.default_rng(2).integers(0, 40, size=5000).astype(np.int32)  # many ties
    for k in (1, 17, 2000, 5000, 9000):
        assert embed.nearest(units, k).tolist() == np.argsort(-units, kind="stable")[:k].tolist()


def test_the_pairs_above_a_threshold_are_those_of_the_whole_matrix_in_blocks_of_any_size():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, embed.DIM)).astype(np.float32)
    rows = embed.quantize(np.repeat(base, 20, axis=0) + rng.normal(scale=0.6, size=(600, embed.DIM)))
    queries = embed.quantize(base[:12] + rng.normal(scale=0.6, size=(12, embed.DIM)))
    exact = rows.astype(np.int64) @ queries.astype(np.int64).T
    threshold = embed.threshold_units(0.5)
    want_i, want_j = np.nonzero(exact >= threshold)
    assert 0 < len(want_i) < exact.size // 4  # some pairs, not all
    for cells in (1, 12 * 7, 12 * 599, 1 << 20):
        i, j, units = embed.above(rows, queries, threshold, cells=cells)
        assert i.tolist() == want_i.tolist() and j.tolist() == want_j.tolist()
        assert units.tolist() == exact[want_i, want_j].tolist()
    nothing = embed.above(rows, queries, int(exact.max()) + 1)
    assert [len(a) for a in nothing] == [0, 0, 0]
    assert [len(a) for a in embed.above(rows[:0], queries, threshold)] == [0, 0, 0]


def test_near_claims_of_other_videos_become_candidate_pairs_bounded_per_claim():
    rng = np.random.default_rng(5)
    claim = rng.normal(size=embed.DIM)
    # One video's claim, and in four others the claim with growing changes: near, not the same.
    rows = {"v0": claim, **{f"v{n}": claim + rng.normal(scale=0.5 + 0.1 * n, size=embed.DIM) for n in range(1, 5)}}
    linking = clusters.Linking(same=0.95, near=0.5, pairs_per_claim=2)
    conn = sqlite3.connect(":memory:")
    clusters.create(conn)
    for vid, row in rows.items():
        clusters.link(conn, vid, [f"{vid}/c1"], embed.quantize(np.array([row], dtype=np.float32)), linking)
    pairs = conn.execute("SELECT a, b, similarity FROM claim_pairs ORDER BY a, b").fetchall()
    assert pairs and all(a < b and a.split("/")[0] != b.split("/")[0] for a, b, _ in pairs)
    assert all(0.5 <= sim < 0.95 for _, _, sim in pairs)
    for vid in rows:  # at most two asked for each arriving claim
        arrived_later = [p for p in pairs if max(p[:2]) == f"{vid}/c1"]
        assert len(arrived_later) <= 2
    assert len(clusters.clusters(conn)) == 5  # none the same
    clusters.link(conn, "v0", [], np.zeros((0, embed.DIM), np.int8), linking)  # v0 re-mined: no claims
    assert not conn.execute("SELECT COUNT(*) FROM claim_pairs WHERE a = 'v0/c1' OR b = 'v0/c1'").fetchone()[0]


class _Fixed:
    """An embedder for the tests' own texts: each text's vector given (the bundled model's are
    exercised by the workflow's tests; here what is under test is the bookkeeping)."""

    model = embed.WORDLLAMA

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def embed(self, texts):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_the_largest_clusters_read_back_with_their_best_wording_videos_and_dates(tmp_path, capsys):
    from claimflow.store import database as store
    from claimflow.store import query
    from tests.test_store import _docs

    rng = np.random.default_rng(2)
    said = rng.normal(size=embed.DIM)
    texts = {"Sleep consolidates memory.": said,
             "Deep sleep stores memories.": said + rng.normal(scale=0.05, size=embed.DIM),
             "Forests hold carbon.": rng.normal(size=embed.DIM),
             "Coffee is a drug.": rng.normal(size=embed.DIM)}  # fmt: skip
    db = tmp_path / "claimflow.sqlite"
    plan = {"v1": ["Sleep consolidates memory.", "Forests hold carbon."], "v2": ["Deep sleep stores memories."],
            "v3": ["Coffee is a drug."]}  # fmt: skip
    for n, (vid, claims) in enumerate(plan.items()):
        download, transcript, claims_doc, evaluation = _docs(vid, len(claims))
        download |= {"upload_date": f"2026010{n + 1}", "channel": f"ch{n % 2}"}
        for claim, text in zip(claims_doc["claims"], claims, strict=True):
            claim["claim_text"] = text
        evaluation["evaluations"][0]["score"] = 5.0 + n
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        record = embed.embed_video(vid, claims_doc, evaluation, _Fixed(texts))
        clusters.link_record(db, record, clusters.Linking(), timeout=5)
    found = query.clusters(db)
    assert len(found) == 1
    made = found[0]
    assert made.videos == 2 and made.channels == 2 and (made.first, made.last) == ("20260101", "20260102")
    assert made.canonical == "Deep sleep stores memories."  # v2's is scored 6.0, v1's 5.0
    assert [m.vid for m in made.members] == ["v1", "v2"] and made.members[0].link.endswith("at 0:00:00")
    assert query.clusters(db, min_videos=1, limit=10)[0] == made and len(query.clusters(db, min_videos=1)) == 3
    # `claimflow clusters`, as a user reads it.
    from claimflow.commands import cli
    from tests.test_cli import DEMO_CONFIG

    (tmp_path / "c.yaml").write_text(f"results: {tmp_path}\n")
    assert cli.main(["clusters", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == "[2 videos, 2 channels, 20260101 to 20260102] Deep sleep stores memories."
    assert "1 claim(s) made in 2 videos or more" in out.err
    assert (
        cli.main(["clusters", "--min-videos", "3", "--json", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")])
        == 1
    )


def test_a_search_by_meaning_finds_the_claim_in_other_words_with_the_bundled_model(tmp_path, capsys):
    import json

    from claimflow.commands import cli
    from claimflow.store import database as store
    from claimflow.store import query
    from tests.test_cli import DEMO_CONFIG
    from tests.test_store import _docs

    plan = {
        "v1": ["Deep sleep consolidates long-term memories.", "Old forests store a great deal of carbon."],
        "v2": ["Interest rates rise when central banks fight inflation.", "Coffee raises alertness for hours."],
    }
    db = tmp_path / "claimflow.sqlite"
    model = embed.embedder("wordllama")  # the real bundled model (its weights in its wheel)
    for vid, texts in plan.items():
        download, transcript, claims_doc, evaluation = _docs(vid, len(texts))
        for claim, text in zip(claims_doc["claims"], texts, strict=True):
            claim["claim_text"] = text
        evaluation["evaluations"][1]["tier"] = "C"
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        clusters.link_record(db, embed.embed_video(vid, claims_doc, evaluation, model), clusters.Linking(), timeout=5)
    # Not one word in common with the claim it should find first.
    found = query.meaning(db, "what happens to what we learned while we are asleep", model, limit=4)
    assert [row.claim_text for row, _ in found][0] == "Deep sleep consolidates long-term memories."
    similarities = [s for _, s in found]
    assert len(found) == 4 and similarities == sorted(similarities, reverse=True) and -1 <= similarities[-1] < 1
    money = query.meaning(db, "monetary policy and the price of borrowing", model, limit=1)
    assert money[0][0].claim_text.startswith("Interest rates")
    # The filters apply: the tier-C claims alone, one video alone.
    assert {row.tier for row, _ in query.meaning(db, "sleep", model, tier=["C"])} == {"C"}
    assert {row.vid for row, _ in query.meaning(db, "sleep", model, vid=["v2"])} == {"v2"}
    # `claimflow search --meaning`, as a script reads it.
    (tmp_path / "c.yaml").write_text(f"results: {tmp_path}\n")
    argv = ["search", "memory while asleep", "--meaning", "--limit", "2", "--json", "--configfile", DEMO_CONFIG]
    assert cli.main([*argv, str(tmp_path / "c.yaml")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["claim_text"].startswith("Deep sleep") and rows[0]["similarity"] > 0
    argv = ["search", "x", "--meaning", "--said", "--tier", "A", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")]
    assert cli.main(argv) == 2  # segments have no tier, by meaning or by words
    assert "--said searches transcript segments" in capsys.readouterr().err


def test_export_gives_the_clusters_a_row_per_member_in_csv(tmp_path, capsys):
    import csv
    import io
    import json

    from claimflow.commands import cli
    from claimflow.store import database as store
    from tests.test_cli import DEMO_CONFIG
    from tests.test_store import _docs

    model = embed.embedder("wordllama")
    said = {"v1": "Deep sleep consolidates long-term memories.", "v2": "Deep sleep consolidates long-term memories!",
            "v3": "Coffee raises alertness for hours."}  # fmt: skip
    db = tmp_path / "claimflow.sqlite"
    for vid, text in said.items():
        download, transcript, claims_doc, evaluation = _docs(vid, 1)
        claims_doc["claims"][0]["claim_text"] = text
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        clusters.link_record(db, embed.embed_video(vid, claims_doc, evaluation, model), clusters.Linking(), timeout=5)
    (tmp_path / "c.yaml").write_text(f"results: {tmp_path}\n")
    base = ["export", "--what", "clusters", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")]
    assert cli.main(base) == 0
    (cluster,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert cluster["videos"] == 2 and [m["vid"] for m in cluster["members"]] == ["v1", "v2"]
    assert cli.main([*base, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["cluster"], r["vid"], r["videos"]) for r in rows] == [("v1/c001", "v1", "2"), ("v1/c001", "v2", "2")]
    assert all(r["link"] and r["canonical"].startswith("Deep sleep") for r in rows)


def test_a_search_by_meaning_in_a_database_with_nothing_linked_says_how_to_link(tmp_path):
    import pytest

    from claimflow.store import database as store
    from claimflow.store import query
    from tests.test_store import _docs

    db = tmp_path / "claimflow.sqlite"
    store.store_video(db, "v1", store.rows_for(*_docs("v1", 1)), timeout=5)  # stored, never linked
    with pytest.raises(query.QueryError, match="no claim linked yet.*link jobs"):
        query.meaning(db, "sleep", embed.embedder("wordllama"))


def test_near_claims_of_two_videos_become_pairs_whose_judgements_read_back_as_contested(tmp_path, capsys):
    import json

    from claimflow.commands import cli
    from claimflow.store import database as store
    from claimflow.store import query
    from tests.test_cli import DEMO_CONFIG
    from tests.test_store import _docs

    said = {
        "v1": ["Coffee improves focus for hours.", "Interest rates rise when central banks fight inflation."],
        "v2": ["Coffee ruins your focus within an hour.", "Central banks cut interest rates to fight inflation."],
    }
    db = tmp_path / "claimflow.sqlite"
    model = embed.embedder("wordllama")
    for vid, texts in said.items():
        download, transcript, claims_doc, evaluation = _docs(vid, 2)
        for claim, text in zip(claims_doc["claims"], texts, strict=True):
            claim["claim_text"] = text
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        clusters.link_record(db, embed.embed_video(vid, claims_doc, evaluation, model), clusters.Linking(), timeout=5)
    conn = sqlite3.connect(db)
    pairs = clusters.pairs_of(conn, "v2", per_claim=3)
    # Near (0.74 and 0.87 by the bundled model) but not the same: candidate pairs, each once.
    assert [(p.a, p.b, p.negation) for p in pairs] == [("v1/c002", "v2/c002", False), ("v1/c001", "v2/c001", False)]
    assert clusters.pairs_of(conn, "v1", per_claim=1) == pairs  # one per claim: each of v1's claims has one
    sides = clusters.sides(conn, ["v1/c001", "v2/c001"])
    assert sides["v2/c001"] == ("Coffee ruins your focus within an hour.", "Sleep is essential for memory.")
    conn.close()
    verdicts = [("v1/c001", "v2/c001", "contradicts", "improves against ruins"),
                ("v1/c002", "v2/c002", "contradicts", "rise against cut")]  # fmt: skip
    assert clusters.record_judgements(db, verdicts, "local:bundled", timeout=5) == 2
    clusters.record_judgements(db, verdicts[1:], "local:bundled", timeout=5)  # judged again: replaced, not doubled
    found = query.judged_pairs(db)
    assert [(p.first.claim_id, p.second.vid, p.reason) for p in found] == [
        ("c002", "v2", "rise against cut"),
        ("c001", "v2", "improves against ruins"),
    ]
    assert query.judged_pairs(db, "supports") == []
    (tmp_path / "c.yaml").write_text(f"results: {tmp_path}\n")
    assert cli.main(["contested", "--json", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["first"]["claim_text"].startswith("Interest rates") and rows[0]["second"]["link"]
    assert cli.main(["contested", "--supports", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml")]) == 1
    # The report's view of where the batch disagrees: both sides, their quotes, the reason.
    from claimflow.commands import report
    from claimflow.core import settings

    data = report.gather(settings.load().pacing, ["v1", "v2"], tmp_path)
    page = "".join(report._contested(data))
    assert len(data.contested) == 2 and page.startswith("<h2>Contested claims</h2>")
    assert "Coffee ruins your focus within an hour." in page and "rise against cut" in page and "<q>" in page


def test_a_claim_and_its_negation_are_never_one_cluster_but_a_pair_judged_by_rule(tmp_path):
    """A static embedding puts "X does not cause Y" at 0.97 of "X causes Y": joined by the
    threshold alone the contradiction would hide inside one cluster and never be judged."""
    from claimflow.knowledge import judge
    from claimflow.store import database as store
    from tests.test_store import _docs

    said = {
        "v1": ["Deep sleep helps the brain store long-term memories."],
        "v2": ["Deep sleep does not help the brain store long-term memories."],
        "v3": ["Deep sleep helps the brain store long term memories."],  # v1's claim again
        "v4": ["Interest rates rise when central banks fight inflation."],
    }
    model = embed.embedder("wordllama")
    vectors = {vid: embed.quantize(model.embed(texts)) for vid, texts in said.items()}
    units = int(embed.similarity(vectors["v1"], vectors["v2"])[0, 0])
    assert units >= clusters.Linking().same_units  # alike enough to be joined, were negation not looked at
    found = []
    for order in (["v1", "v2", "v3", "v4"], ["v4", "v3", "v2", "v1"], ["v2", "v1", "v4", "v3"]):
        db = tmp_path / f"{''.join(order)}.sqlite"
        for vid in order:
            download, transcript, claims_doc, evaluation = _docs(vid, 1)
            claims_doc["claims"][0]["claim_text"] = said[vid][0]
            store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
            clusters.link_record(db, embed.embed_video(vid, claims_doc, evaluation, model), clusters.Linking(), 5)
        conn = sqlite3.connect(db)
        pairs = sorted({p for vid in said for p in clusters.pairs_of(conn, vid, per_claim=3)}, key=lambda p: (p.a, p.b))
        found.append((clusters.clusters(conn), [(p.a, p.b, p.negation) for p in pairs]))
        conn.close()
    assert found[0] == found[1] == found[2]  # any order of arrival: the same clusters and pairs
    groups, pairs = found[0]
    assert sorted(groups.values()) == [["v1/c001", "v3/c001"], ["v2/c001"], ["v4/c001"]]
    # The negation is paired with both sayings of the claim, and only those pairs are negations.
    assert [(a, b) for a, b, negation in pairs if negation] == [("v1/c001", "v2/c001"), ("v2/c001", "v3/c001")]
    verdict = judge.by_negation(judge.Side("v2/c001", said["v2"][0], ""), judge.Side("v1/c001", said["v1"][0], ""),
                                0.97)  # fmt: skip
    assert (verdict.a, verdict.b, verdict.relation) == ("v1/c001", "v2/c001", "contradicts")


def test_a_relink_splits_a_claim_from_its_negation_in_a_cluster_linked_before_the_rule(tmp_path):
    """A batch linked before negations were looked at (schema 11) holds claims and their
    negations in one cluster; when one of its videos is relinked the members left are rejoined
    among themselves by the rule, so the cluster splits."""
    from claimflow.store import database as store
    from tests.test_store import _docs

    said = {"v1": "Coffee improves focus for hours.", "v2": "Coffee does not improve focus for hours.",
            "v3": "Coffee improves focus for many hours."}  # fmt: skip
    model = embed.embedder("wordllama")
    db = tmp_path / "claimflow.sqlite"
    records = {}
    for vid, text in said.items():
        download, transcript, claims_doc, evaluation = _docs(vid, 1)
        claims_doc["claims"][0]["claim_text"] = text
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        records[vid] = embed.embed_video(vid, claims_doc, evaluation, model)
        clusters.link_record(db, records[vid], clusters.Linking(), 5)
    conn = sqlite3.connect(db)
    assert sorted(clusters.clusters(conn).values()) == [["v1/c001", "v3/c001"], ["v2/c001"]]
    conn.execute("UPDATE claim_clusters SET cluster = 'v1/c001'")  # as the link before the rule made it
    conn.commit()
    conn.close()
    clusters.link_record(db, records["v3"], clusters.Linking(), 5)  # v3 relinked
    conn = sqlite3.connect(db)
    assert sorted(clusters.clusters(conn).values()) == [["v1/c001", "v3/c001"], ["v2/c001"]]
    conn.close()


def test_negation_is_read_from_the_words():
    said_no = ["Coffee does not improve focus.", "Coffee doesn't improve focus.", "Coffee doesn’t help.",
               "No coffee improves focus.", "Nobody needs coffee.", "Coffee never helps.",
               "You cannot sleep."]  # fmt: skip
    said_yes = ["Coffee improves focus.", "Nothingness is a concept.", "Notes help memory.", "Canon cameras focus."]
    assert all(embed.negated(t) for t in said_no)
    assert not any(embed.negated(t) for t in said_yes)

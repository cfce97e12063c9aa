"""Reading the result: full-text search with filters and links to the moment, one-line errors
for malformed queries, exports; on a real SQLite database written by the store stage."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from claimflow.store import database as store
from claimflow.store import query

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")


def video(vid: str, source: str, claims: list[tuple[str, str, str, float]]) -> tuple[dict, dict, dict, dict]:
    """(claim text, type, tier, t0) per claim; each claim's quote is its own sentence."""
    download = {"vid": vid, "status": "ok", "title": f"Title of {vid}", "source": source, "account": "a"}
    segments = [{"id": i, "start": t0, "end": t0 + 4, "text": text} for i, (text, _, _, t0) in enumerate(claims, 1)]
    transcript = {"vid": vid, "status": "ok", "duration": 600.0, "source": "whisper:tiny.en", "segments": segments}
    mined = [{"claim_id": f"c{i:03d}", "claim_text": text, "claim_type": kind, "domain": "d", "stance": "asserts",
              "supported": True, "window": 0,
              "evidence_spans": [{"segment_id": i, "quote": f"As said: {text}", "t0": t0, "t1": t0 + 4}]}
             for i, (text, kind, _, t0) in enumerate(claims, 1)]  # fmt: skip
    claims_doc = {"vid": vid, "claims": mined, "jargon": [], "people": [], "mental_models": [], "usage": {}}
    evaluation = {"evaluations": [{"claim_id": f"c{i:03d}", "decision": "accept" if tier else "reject",
                                   "tier": tier or None, "score": 9.0 - i, "rank": i}
                                  for i, (_, _, tier, _) in enumerate(claims, 1)]}  # fmt: skip
    return download, transcript, claims_doc, evaluation


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "results" / "claimflow.sqlite"
    conn = store.connect(path)
    batch = {
        "youtube-dQw4w9WgXcQ": ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", [
            ("Compound interest doubles money every decade at seven percent.", "causal", "A", 83.6),
            ("Index funds beat most active managers over twenty years.", "factual", "B", 125.0)]),
        "file-talk": ("file:///data/talks/talk.ogg", [
            ("Deep sleep consolidates memory.", "factual", "A", 3725.2),
            ("Coffee after noon ruins sleep quality.", "prescriptive", "", 12.0)]),
    }  # fmt: skip
    for vid, (source, claims) in batch.items():
        store.upsert(conn, vid, store.rows_for(*video(vid, source, claims)))
    conn.close()
    return path


def test_search_finds_a_claim_by_a_word_of_it_with_a_link_to_the_moment(database: Path):
    found = query.search(database, "interest")
    assert [r.claim_id for r in found] == ["c001"] and found[0].vid == "youtube-dQw4w9WgXcQ"
    assert found[0].link == "https://youtu.be/dQw4w9WgXcQ?t=83"
    assert found[0].tier == "A" and found[0].title == "Title of youtube-dQw4w9WgXcQ"
    assert found[0].quote == "As said: Compound interest doubles money every decade at seven percent."
    local = query.search(database, "memory")[0]
    assert local.link == "/data/talks/talk.ogg at 1:02:05"


def test_search_filters_by_tier_video_and_type(database: Path):
    assert {r.claim_id for r in query.search(database, "sleep")} == {"c001", "c002"}
    assert [r.claim_id for r in query.search(database, "sleep", tier=["A"])] == ["c001"]
    assert query.search(database, "sleep", vid=["youtube-dQw4w9WgXcQ"]) == []
    assert [r.claim_id for r in query.search(database, "sleep OR funds", claim_type=["prescriptive"])] == ["c002"]
    assert len(query.search(database, "said", limit=3)) == 3  # quotes are searched too


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "sources": [str(tmp_path / "x.ogg")]}))
    return subprocess.run([CLAIMFLOW, *args, "--configfile", str(config)], capture_output=True, text=True, timeout=60)


@pytest.mark.integration
def test_the_search_command_prints_claim_tier_title_quote_and_link(database: Path, tmp_path: Path):
    run = cli(tmp_path, "search", "index funds")
    assert run.returncode == 0, run.stderr
    assert "[tier B, score 7.00] Index funds beat most active managers over twenty years." in run.stdout
    assert "Title of youtube-dQw4w9WgXcQ" in run.stdout and "https://youtu.be/dQw4w9WgXcQ?t=125" in run.stdout
    assert cli(tmp_path, "search", "nothingmatches").returncode == 1


@pytest.mark.integration
@pytest.mark.parametrize("text", ['"unterminated', "AND OR", "sleep NEAR(", "col:sleep"])
def test_a_malformed_query_gets_one_line_not_a_traceback(database: Path, tmp_path: Path, text: str):
    run = cli(tmp_path, "search", text)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid full-text syntax" in lines[0] and "double quotes" in lines[0]


@pytest.mark.integration
def test_export_gives_every_claim_once_with_its_evaluation_and_evidence(database: Path, tmp_path: Path):
    rows = [json.loads(line) for line in cli(tmp_path, "export", "--format", "jsonl").stdout.splitlines()]
    assert len(rows) == 4 and {(r["vid"], r["claim_id"]) for r in rows} == {
        ("file-talk", "c001"),
        ("file-talk", "c002"),
        ("youtube-dQw4w9WgXcQ", "c001"),
        ("youtube-dQw4w9WgXcQ", "c002"),
    }
    rejected = next(r for r in rows if r["decision"] == "reject")
    assert rejected["claim_text"].startswith("Coffee") and rejected["evidence"][0]["t0"] == 12.0
    out = tmp_path / "claims.csv"
    assert cli(tmp_path, "export", "--format", "csv", "--output", str(out)).returncode == 0
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(table) == 4 and table[0]["evidence_count"] == "1" and table[0]["link"]


@pytest.mark.integration
def test_no_database_is_a_one_line_message(tmp_path: Path):
    run = cli(tmp_path, "search", "anything")
    assert run.returncode == 2 and "nothing is stored yet" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(("url", "expected"), [
    ("https://youtu.be/abc123?si=x", "abc123"), ("https://m.youtube.com/watch?v=abc123&t=5", "abc123"),
    ("https://www.youtube.com/shorts/abc123", "abc123"), ("https://vimeo.com/123", None), (None, None)])  # fmt: skip
def test_youtube_ids_from_the_forms_users_paste(url, expected):
    assert query.youtube_id(url) == expected


def test_search_and_export_group_by_collection(database):
    selection = {"collection": "money-show", "url": "https://example.org/money.rss", "kind": "feed",
                 "title": "Money", "listed_at": 1.0, "filters": {}, "counts": {},
                 "entries": [{"vid": "youtube-dQw4w9WgXcQ", "entry_id": "e1", "position": 1}],
                 "listed": [{"vid": "youtube-dQw4w9WgXcQ", "entry_id": "e1", "position": 1}]}  # fmt: skip
    store.store_collection(database, selection, timeout=5)
    everything = query.search(database, "sleep OR interest")
    assert {r.vid for r in everything} == {"youtube-dQw4w9WgXcQ", "file-talk"}
    in_show = query.search(database, "sleep OR interest", collection=["money-show"])
    assert {r.vid for r in in_show} == {"youtube-dQw4w9WgXcQ"} and in_show[0].collections == "money-show"
    rows = [json.loads(line) for line in query.export(database, "jsonl")]
    assert {r["vid"]: r["collections"] for r in rows} == {"youtube-dQw4w9WgXcQ": "money-show", "file-talk": None}


def test_a_tier_filter_finds_accepted_claims_only_and_a_local_moment_has_a_link(database: Path):
    # The rejected coffee claim carries a score as high as others; a tier ranks accepted claims.
    conn = store.connect(database)
    conn.execute("UPDATE evaluations SET tier = 'A', score = 9.5 WHERE vid = 'file-talk' AND claim_id = 'c002'")
    conn.close()
    assert {r.claim_id for r in query.search(database, "sleep")} == {"c001", "c002"}
    found = query.search(database, "sleep", tier=["A"])
    assert [(r.claim_id, r.decision) for r in found] == [("c001", "accept")]
    assert found[0].link == "/data/talks/talk.ogg at 1:02:05"
    assert found[0].href == "file:///data/talks/talk.ogg#t=3725"  # the browser's player seeks to the moment
    youtube = query.search(database, "interest")[0]
    assert youtube.href == youtube.link == "https://youtu.be/dQw4w9WgXcQ?t=83"


def _said(**extra) -> tuple[dict, dict, dict, dict]:
    """A video whose transcript says more than its one claim."""
    claim = ("Deep sleep consolidates memory.", "factual", "A", 10.0)
    url = "https://www.youtube.com/watch?v=said"
    download, transcript, claims_doc, evaluation = video("youtube-said", url, [claim])
    transcript["segments"] += [
        {"id": 2, "start": 42.5, "end": 47.0, "text": " The lighthouse keeper counted ships every night."},
        {"id": 3, "start": 47.0, "end": 51.0, "text": " Nobody asked him why."},
    ]
    return download, transcript | extra, claims_doc, evaluation


def test_what_was_said_outside_any_claim_is_found_with_its_moment(database: Path):
    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    conn.close()
    assert query.search(database, "lighthouse") == []  # in no claim and no quote
    found = query.said(database, "lighthouse keeper")
    assert [(r.vid, r.segment_id, r.start) for r in found] == [("youtube-said", 2, 42.5)]
    assert found[0].link == "https://youtu.be/said?t=42" and found[0].title == "Title of youtube-said"
    assert {r.vid for r in query.said(database, "sleep")} == {"youtube-said", "file-talk"}
    assert [(r.vid, r.segment_id) for r in query.said(database, "sleep", vid=["file-talk"])] == [
        ("file-talk", 1), ("file-talk", 2)]  # fmt: skip
    assert query.said(database, "memory")[0].href in (
        "file:///data/talks/talk.ogg#t=3725",
        "https://youtu.be/said?t=10",
    )
    # A video stored again replaces what it said: no stale hit.
    download, transcript, claims_doc, evaluation = _said()
    transcript["segments"] = transcript["segments"][:1]
    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(download, transcript, claims_doc, evaluation))
    conn.close()
    assert query.said(database, "lighthouse") == []
    with pytest.raises(query.QueryError, match="not valid full-text syntax"):
        query.said(database, '"unterminated')


def test_a_word_said_more_often_than_a_search_ranks_is_ranked_among_the_latest_and_the_command_says_so(
        tmp_path: Path, monkeypatch, capsys):  # fmt: skip
    from claimflow.commands import cli as cf_cli

    path = tmp_path / "results" / "claimflow.sqlite"
    conn = store.connect(path)
    # Six videos stored in turn; "tide" once in each, the earliest in the shortest (best) line.
    for n in range(6):
        text = "Tide." if n == 0 else f"The tide came in at {n} o'clock over the long flat sands of the bay."
        claims = [(f"Tide {n} rises.", "factual", "A", 1.0)]
        download, transcript, claims_doc, evaluation = video(f"v{n}", f"file:///t/{n}.ogg", claims)
        transcript["segments"] += [{"id": 9, "start": 30.0, "end": 34.0, "text": text}]
        store.upsert(conn, f"v{n}", store.rows_for(download, transcript, claims_doc, evaluation))
    conn.close()
    best_of_all = [(r.vid, r.segment_id) for r in query.said(path, "tide", limit=1)]
    assert best_of_all == [("v0", 9)] and query.ranked_all(path, "segments_fts", "tide")
    monkeypatch.setattr(query, "RANKED", 4)
    # Twelve segments say it (a claim's own line and the other): the latest four stored are v4's
    # and v5's.
    assert {r.vid for r in query.said(path, "tide")} == {"v4", "v5"}
    assert {r.vid for r in query.said(path, "tide", vid=["v0", "v1"])} == {"v0", "v1"}  # a filter first
    assert {r.vid for r in query.search(path, "tide")} == {"v2", "v3", "v4", "v5"}  # a claim each
    assert {r.vid for r in query.search(path, "tide", vid=["v0"])} == {"v0"}
    assert not query.ranked_all(path, "segments_fts", "tide") and query.ranked_all(
        path, "segments_fts", '"came in at 3"'
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "sources": [str(tmp_path / "x.ogg")]}))
    assert cf_cli.main(["search", "tide", "--said", "--configfile", str(config)]) == 0
    assert "'tide' is in more than 4 segments: the best among the latest 4 stored" in capsys.readouterr().err
    assert cf_cli.main(["search", '"came in at 3"', "--said", "--configfile", str(config)]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_database_from_before_the_index_of_what_was_said_is_filled_by_the_migration(tmp_path: Path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(6):  # schema 6, as the previous release left it
        store.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version=6")
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    conn.close()
    with pytest.raises(query.QueryError, match="no index of what was said yet"):
        query.said(path, "lighthouse")  # read-only: never migrates
    store.connect(path).close()  # what the next store job does first
    assert [r.segment_id for r in query.said(path, "lighthouse")] == [2]


def test_the_search_command_searches_what_was_said(database: Path, tmp_path: Path, capsys):
    from claimflow.commands import cli as cf_cli

    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    conn.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "sources": [str(tmp_path / "x.ogg")]}))
    assert cf_cli.main(["search", "lighthouse", "--said", "--configfile", str(config)]) == 0
    out = capsys.readouterr()
    assert '"The lighthouse keeper counted ships every night."' in out.out
    assert "https://youtu.be/said?t=42" in out.out and "1 segment(s) found" in out.err
    assert cf_cli.main(["search", "lighthouse", "--said", "--json", "--configfile", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["segment_id"] == 2
    assert cf_cli.main(["search", "sleep", "--said", "--tier", "A", "--configfile", str(config)]) == 2
    assert "--said searches transcript segments" in capsys.readouterr().err

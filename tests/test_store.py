import contextlib
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from claimflow.store import database as store


def _docs(vid: str, claims: int) -> tuple[dict, dict, dict, dict]:
    download = {"vid": vid, "status": "ok", "title": "T", "source": "file:///x", "account": "a"}
    transcript = {
        "vid": vid,
        "status": "ok",
        "duration": 10.0,
        "source": "whisper:tiny.en",
        "segments": [{"id": 1, "start": 0.0, "end": 5.0, "text": "Sleep is essential for memory."}],
    }
    span = {"segment_id": 1, "quote": "Sleep is essential for memory.", "t0": 0.0, "t1": 5.0, "match": "exact"}
    claims_doc = {
        "vid": vid,
        "prompt": "mine.v1:abc",
        "claims": [
            {"claim_id": f"c{i:03d}", "claim_text": f"Sleep matters {i}", "claim_type": "factual", "domain": "health",
             "stance": "asserts", "supported": True, "window": 0, "evidence_spans": [span]}
            for i in range(1, claims + 1)
        ],
        "jargon": [{"term": "memory", "definition": "d", "evidence_spans": [span], "window": 0, "supported": True}],
        "people": [],
        "mental_models": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }  # fmt: skip
    evaluation = {
        "evaluations": [
            {"claim_id": f"c{i:03d}", "decision": "accept", "score": 7.0, "tier": "B", "rank": i}
            for i in range(1, claims + 1)
        ]
    }
    return download, transcript, claims_doc, evaluation


def test_rerun_of_a_video_replaces_its_rows(tmp_path):
    db = tmp_path / "c.sqlite"
    conn = store.connect(db)
    store.upsert(conn, "v1", store.rows_for(*_docs("v1", 3)))
    store.upsert(conn, "v2", store.rows_for(*_docs("v2", 1)))
    store.upsert(conn, "v1", store.rows_for(*_docs("v1", 2)))  # rerun with fewer claims
    count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert count("SELECT COUNT(*) FROM claims WHERE vid='v1'") == 2
    assert count("SELECT COUNT(*) FROM videos") == 2
    assert count("SELECT COUNT(*) FROM evidence WHERE vid='v1'") == 3  # 2 claims + 1 jargon
    assert count("SELECT COUNT(*) FROM claims_fts WHERE claims_fts MATCH 'sleep'") == 3
    assert count("SELECT prompt_tokens FROM videos WHERE vid='v1'") == 10
    conn.close()


def test_database_is_readable_while_a_writer_holds_a_transaction(tmp_path):
    db = tmp_path / "c.sqlite"
    writer = store.connect(db)
    store.upsert(writer, "v1", store.rows_for(*_docs("v1", 1)))
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM claims")
    reader = sqlite3.connect(db, timeout=1)
    assert reader.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 1  # WAL: readers see the last commit
    writer.execute("ROLLBACK")
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_upsert_keeps_the_previous_rows(tmp_path):
    conn = store.connect(tmp_path / "c.sqlite")
    store.upsert(conn, "v1", store.rows_for(*_docs("v1", 2)))
    rows = store.rows_for(*_docs("v1", 1))
    rows["claims"].append(dict(rows["claims"][0]))  # a duplicate primary key mid-way
    with contextlib.suppress(sqlite3.IntegrityError):
        store.upsert(conn, "v1", rows)
    assert conn.execute("SELECT COUNT(*) FROM claims WHERE vid='v1'").fetchone()[0] == 2


FIXTURE_V1 = Path(__file__).parent / "fixtures/claimflow-v1.sqlite"  # written by the demo at schema version 1


def _table_rows(conn: sqlite3.Connection, table: str, columns: str) -> list[tuple]:
    return sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall(), key=repr)


def test_a_database_from_the_previous_version_is_migrated_in_place_with_its_rows(tmp_path):
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE_V1, db)
    old = sqlite3.connect(db)
    assert store.schema_version(old) == 1
    columns_before = {t: ", ".join(r[1] for r in old.execute(f"PRAGMA table_info({t})"))
                      for t in ("segments", "claims", "evaluations", "evidence", "jargon")}  # fmt: skip
    before = {t: _table_rows(old, t, columns) for t, columns in columns_before.items()}
    rowids_before = _table_rows(old, "segments", "rowid, vid, segment_id")
    videos_before = _table_rows(old, "videos", "vid, status, title, prompt_tokens, llm_requests")
    fts_before = _table_rows(old, "claims_fts", "claim_text, vid")
    old.close()
    assert videos_before and before["claims"]

    conn = store.connect(db)
    assert store.schema_version(conn) == store.SCHEMA_VERSION == 15
    for table, rows in before.items():
        assert _table_rows(conn, table, columns_before[table]) == rows, table
    assert _table_rows(conn, "segments", "rowid, vid, segment_id") == rowids_before  # segments_fts still holds
    assert _table_rows(conn, "videos", "vid, status, title, prompt_tokens, llm_requests") == videos_before
    assert _table_rows(conn, "claims_fts", "claim_text, vid") == fts_before
    columns = {row[1] for row in conn.execute("PRAGMA table_info(videos)")}
    assert {"provenance", "road", "road_reason", "captions_wer"} <= columns  # 2 -> 3, 5 -> 6
    assert conn.execute("SELECT COUNT(*) FROM collection_videos").fetchone()[0] == 0  # 4 -> 5: collections
    said = conn.execute("SELECT COUNT(*) FROM segments_fts WHERE segments_fts MATCH 'the'").fetchone()[0]
    assert said == conn.execute("SELECT COUNT(*) FROM segments WHERE ' ' || lower(text) || ' ' LIKE '% the %'"
                                ).fetchone()[0] > 0  # 6 -> 7: what was said, indexed from the old rows  # fmt: skip
    linked = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"video_vectors", "claim_clusters", "claim_pairs"} <= linked  # 7 -> 8: empty until the link jobs
    assert "claim_judgements" in linked  # 8 -> 9: empty until the judge jobs
    assert "model" in {row[1] for row in conn.execute("PRAGMA table_info(video_vectors)")}  # 9 -> 10
    assert "video_summaries" in linked  # 10 -> 11: empty until the summarize jobs
    assert "negation" in {row[1] for row in conn.execute("PRAGMA table_info(claim_pairs)")}  # 11 -> 12
    assert "claim_pairs_b" in {row[1] for row in conn.execute("PRAGMA index_list(claim_pairs)")}  # 12 -> 13
    assert "said_codes" in linked  # 13 -> 14: empty until a search by meaning or a summary job
    _assert_readable(conn)  # 14 -> 15
    # New rows go in next to the old ones, with the new column filled.
    store.upsert(conn, "new", store.rows_for(*_docs("new", 2)))
    assert conn.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == len(videos_before) + 1
    conn.close()
    assert store.schema_version(store.connect(db)) == 15  # a second connect changes nothing


def _assert_readable(conn: sqlite3.Connection) -> None:
    """Schema 15: what a reader of the database (Datasette, any SQLite browser) finds."""
    refs = lambda t: {(r[2], r[3]) for r in conn.execute(f"PRAGMA foreign_key_list({t})")}  # noqa: E731
    for table in ("segments", "claims", "evaluations", "jargon", "people", "mental_models", "evidence",
                  "video_summaries", "claim_clusters"):  # fmt: skip
        assert ("videos", "vid") in refs(table), table
    assert ("claims", "claim_id") in refs("evaluations")
    assert ("collections", "cid") in refs("collection_videos")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    keys = [r[1] for r in conn.execute("PRAGMA table_info(evidence)") if r[5]]
    assert keys == ["evidence_id"]
    for name, (table, _, _) in store.ATTACHED_FTS.items():  # attached as Datasette looks for it
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        assert f'content="{table}"' in sql, name
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('integrity-check', 1)")  # raises when stale
    claims = conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM claims_fts").fetchone()[0] == claims > 0
    stored = conn.execute("SELECT stored_at, stored_utc FROM videos LIMIT 1").fetchone()
    assert stored[1] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stored[0]))
    views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert {"accepted_claims", "quotes", "contested_claims"} <= views
    accepted = conn.execute("SELECT COUNT(*) FROM evaluations WHERE decision = 'accept'").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM accepted_claims").fetchone()[0] == accepted


def test_the_road_a_transcript_took_and_the_channels_captions_gate_are_stored(tmp_path):
    from claimflow.commands import report

    db = tmp_path / "claimflow.sqlite"  # the results folder's database: the report reads it
    download, transcript, claims, evaluation = _docs("v1", 1)
    download |= {"road": "audio", "road_reason": "a sample of <UC1>'s automatic captions"}
    transcript |= {"gate": {"channel": "<UC1>", "wer": 0.127, "decision": "accepted"}}
    store.store_video(db, "v1", store.rows_for(download, transcript, claims, evaluation), timeout=5)
    store.store_video(db, "v0", store.rows_for(*_docs("v0", 1)), timeout=5)  # downloaded before the roads
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT vid, road, road_reason, captions_wer FROM videos ORDER BY vid").fetchall() == [
        ("v0", "audio", None, None), ("v1", "audio", "a sample of <UC1>'s automatic captions", 0.127)]  # fmt: skip
    conn.close()
    state = {"channel": "<UC1>", "samples": {"v1": {"wer": 0.127, "words": 80}, "v2": None}, "decision": None,
             "started": 1.0}  # fmt: skip
    store.store_gate(db, state, timeout=5)
    assert [g["decision"] for g in report.gates_of(db)] == ["undecided"]
    state |= {"samples": {"v1": {"wer": 0.127, "words": 80}, "v2": {"wer": 0.2, "words": 60}},
              "decision": "accepted", "median_wer": 0.1635, "max_wer": 0.25, "decided": 2.0}  # fmt: skip
    store.store_gate(db, state, timeout=5)  # the last sample's store: one row per channel, decided
    gates = report.gates_of(db)
    assert [(g["channel"], g["decision"], g["median_wer"], g["max_wer"]) for g in gates] == [
        ("<UC1>", "accepted", 0.1635, 0.25)]  # fmt: skip
    # The page as the report rule writes it, from the results folder and its database.
    from claimflow.core import config as cf_config
    from claimflow.core.settings import Settings

    pacing = Settings.from_config(cf_config.load(overrides={"sources": ["https://example.com/v1.mp3"]})).pacing
    data = report.gather(pacing, ["v0", "v1"], tmp_path, report.Context(generated_at=1.8e9, results=str(tmp_path)))
    page = report.render_html(data, {name: "<svg></svg>" for name in report.FIGURES})
    assert data.context.results == str(tmp_path) and data.gates == gates
    assert "<td>&lt;UC1&gt;</td><td>accepted</td><td class=num>0.164</td><td class=num>0.250</td>" in page
    assert "v1 0.127, v2 0.200" in page
    store.forget_gates(db, ["<UC1>"], timeout=5)  # claimflow gate --reset
    assert report.gates_of(db) == [] and report._gates([]) == []


def test_the_reports_header_says_where_the_batch_stands_also_when_its_own_last_rule_makes_it():
    from types import SimpleNamespace

    from claimflow.commands import report

    def header(running: bool, eta: float | None) -> str:
        status = SimpleNamespace(snakemake_running=running, eta_seconds=eta, bound_by=None, last_run=None)
        context = report.Context(generated_at=1.8e9, results="/r", status=status)
        return report._header(report.ReportData([], [], {}, {}, {}, {}, Counter(), {}, (1, 2), (0, 0, 0),
                                                context=context))  # fmt: skip

    assert "every video is done; the run is finishing" in header(True, 0)  # the run's last rule: not "ETA done"
    assert "the batch is running; ETA 1h 00m" in header(True, 3600)
    assert "the batch is not running" in header(False, None)


def test_every_migration_from_an_empty_database_gives_the_current_schema(tmp_path):
    conn = store.connect(tmp_path / "new.sqlite")
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    assert set(store.VIDEO_TABLES) | {"evidence_owner", "collections", "collection_videos", "caption_gates"} <= tables


def test_a_database_from_a_newer_claimflow_is_refused_untouched(tmp_path):
    db = tmp_path / "future.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(RuntimeError, match="schema version 99, newer than this claimflow's 15"):
        store.connect(db)
    assert store.schema_version(sqlite3.connect(db)) == 99


def _store_many(database: str, vid: str, claims: int, start) -> None:  # noqa: ANN001 - a multiprocessing Event
    start.wait(30)
    conn = store.connect(database)
    try:
        for _ in range(3):  # a rerun replaces: three upserts of one video, each one transaction
            store.upsert(conn, vid, store.rows_for(*_docs(vid, claims)))
    finally:
        conn.close()


@pytest.mark.integration  # processes
def test_eight_concurrent_store_jobs_finish_while_a_reader_queries_in_a_loop(tmp_path):
    import multiprocessing
    import threading

    from claimflow.store import query

    database = str(tmp_path / "results" / "claimflow.sqlite")  # a new database: the jobs race to create it
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    jobs = [context.Process(target=_store_many, args=(database, f"v{i}", 200, start)) for i in range(8)]
    for job in jobs:
        job.start()
    reads, errors, stop = [0], [], threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                query.search(database, "sleep", limit=5)
                reads[0] += 1
            except query.QueryError:
                pass  # not created yet
            except Exception as error:  # noqa: BLE001 - any error is the finding
                errors.append(repr(error))

    thread = threading.Thread(target=reader)
    thread.start()
    start.set()
    for job in jobs:
        job.join(120)
    stop.set()
    thread.join(10)
    assert [job.exitcode for job in jobs] == [0] * 8  # no "database is locked" in any store job
    assert errors == [] and reads[0] > 0
    conn = sqlite3.connect(database)
    assert conn.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 8
    assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 8 * 200
    assert conn.execute("SELECT COUNT(*) FROM claims_fts WHERE claims_fts MATCH 'sleep'").fetchone()[0] == 8 * 200


def test_a_write_lock_held_by_another_program_fails_the_store_naming_it_then_it_stores(tmp_path):
    db = tmp_path / "c.sqlite"
    store.ensure(db)
    other = sqlite3.connect(db, isolation_level=None)  # e.g. an sqlite3 shell left inside BEGIN
    other.execute("BEGIN EXCLUSIVE")
    rows = store.rows_for(*_docs("v1", 2))
    with pytest.raises(store.DatabaseLocked, match="stayed locked by another program for 1 s") as raised:
        store.store_video(db, "v1", rows, timeout=1)
    assert "run the same command again" in str(raised.value)
    other.execute("ROLLBACK")
    other.close()
    assert store.store_video(db, "v1", rows, timeout=1)["claims"] == 2


@pytest.mark.parametrize(
    "source",
    ["https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ", "file:///media/talk.ogg",
     "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL1"],
)  # fmt: skip
def test_the_views_moment_is_the_link_the_report_and_queries_give(tmp_path, source):
    from claimflow.store import query

    conn = store.connect(tmp_path / "c.sqlite")
    download, transcript, claims_doc, evaluation = _docs("v1", 1)
    claims_doc["claims"][0]["evidence_spans"] = [dict(claims_doc["claims"][0]["evidence_spans"][0], t0=754.6)]
    store.upsert(conn, "v1", store.rows_for(dict(download, source=source), transcript, claims_doc, evaluation))
    moment, at = conn.execute("SELECT moment, at FROM accepted_claims").fetchone()
    assert moment == query.href(query.moment(source, 754.6), source, 754.6)
    assert at == "0:12:34"

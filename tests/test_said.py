"""What was said, searched by meaning (claimflow/store/said.py): each segment's sign code, the
Hamming distances that find the neighbourhood, the bundled model's cosines that order it; on a
real SQLite database written by the store stage and the real bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from claimflow.knowledge import embed
from claimflow.store import database as store
from claimflow.store import query, said
from tests.test_query import _said, database, video  # noqa: F401  (database: the fixture)


@pytest.fixture(scope="module")
def coder() -> embed.WordLlamaEmbedder:
    return embed.WordLlamaEmbedder(embed.WORDLLAMA)


def test_hamming_distances_are_the_bits_that_differ_and_the_closest_are_a_stable_sorts_first():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (500, embed.CODE_BYTES), dtype=np.uint8)
    query_code = codes[7].copy()
    codes[8] = ~query_code  # every bit differs: 256, which the byte sums' multiply must not wrap to 0
    codes[9] = query_code  # the same code: 0
    bits = np.unpackbits(codes, axis=1) != np.unpackbits(query_code)
    distances = embed.hamming(codes, query_code)
    assert distances.tolist() == bits.sum(axis=1).tolist()
    assert distances[8] == 256 and distances[7] == distances[9] == 0
    assert embed.hamming(codes, query_code, words=2).tolist() == bits[:, :128].sum(axis=1).tolist()
    for k in (1, 3, 50, 499, 500, 800):
        assert embed.closest(distances, k).tolist() == np.argsort(distances, kind="stable")[:k].tolist()
    vectors = rng.normal(size=(4, embed.DIM)).astype(np.float32)
    assert embed.signs(vectors).shape == (4, embed.CODE_BYTES)
    assert (np.unpackbits(embed.signs(vectors), axis=1) == (vectors > 0)).all()


def test_what_was_said_in_no_claim_is_found_by_its_meaning_with_its_moment(database: Path, coder):  # noqa: F811
    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    assert said.uncoded(conn) == ["file-talk", "youtube-dQw4w9WgXcQ", "youtube-said"]
    assert said.update(conn, coder) == 3 and said.uncoded(conn) == []
    conn.close()
    # Not one word of "The lighthouse keeper counted ships every night." (a segment in no claim).
    found = query.said_by_meaning(database, "a man who watched boats from his tower after dark", coder, limit=3)
    assert [(row.vid, row.segment_id, row.start) for row, _ in found][0] == ("youtube-said", 2, 42.5)
    assert found[0][0].link == "https://youtu.be/said?t=42"
    similarities = [s for _, s in found]
    assert similarities == sorted(similarities, reverse=True) and 0 < similarities[0] <= 1
    # The filters keep their videos: by id, by upload date.
    assert {row.vid for row, _ in query.said_by_meaning(database, "ships", coder, vid=["file-talk"])} == {"file-talk"}
    # A video stored again drops its codes (they were its old segments'): coded again next.
    download, transcript, claims_doc, evaluation = _said()
    transcript["segments"] = transcript["segments"][:1]
    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(download, transcript, claims_doc, evaluation))
    assert said.uncoded(conn) == ["youtube-said"]
    assert said.code_stored(database, coder) == 1
    conn.close()
    assert all(row.segment_id != 2 or row.vid != "youtube-said"
               for row, _ in query.said_by_meaning(database, "the lighthouse keeper", coder, limit=10))  # fmt: skip


def test_a_video_stored_again_while_its_segments_are_coded_is_left_for_the_next_coding(database: Path, coder):  # noqa: F811
    class StoresMeanwhile:
        """The bundled model, while which a store job stores a video again (the race's shape)."""

        model = embed.WORDLLAMA

        def embed(self, texts):
            download, transcript, claims_doc, evaluation = _said()
            transcript["segments"] = transcript["segments"][:1]  # transcribed again: other segments
            other = store.connect(database)
            store.upsert(other, "youtube-said", store.rows_for(download, transcript, claims_doc, evaluation))
            other.close()
            return coder.embed(texts)

    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    assert said.update(conn, StoresMeanwhile(), ["youtube-said", "file-talk"]) == 1  # file-talk alone
    assert said.uncoded(conn) == ["youtube-dQw4w9WgXcQ", "youtube-said"]
    conn.close()
    with pytest.raises(ValueError, match="coded by the bundled model"):
        said.update(store.connect(database), embed.WordLlamaEmbedder(embed.WORDLLAMA_128))


def test_search_said_by_meaning_codes_what_was_stored_since_and_prints_the_moments(database: Path, tmp_path, capsys):  # noqa: F811
    from claimflow.commands import cli as cf_cli

    conn = store.connect(database)
    store.upsert(conn, "youtube-said", store.rows_for(*_said()))
    conn.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "sources": [str(tmp_path / "x.ogg")]}))
    argv = ["search", "someone tallied the vessels each evening", "--said", "--meaning", "--limit", "2"]
    assert cf_cli.main([*argv, "--configfile", str(config)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith('"The lighthouse keeper counted ships every night." (similarity 0.')
    assert "https://youtu.be/said?t=42" in out.out and "2 segment(s) found" in out.err
    assert cf_cli.main([*argv, "--json", "--configfile", str(config)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["segment_id"] == 2 and 0 < rows[0]["similarity"] <= 1
    # A second video stored after the search: the next search codes it first.
    conn = store.connect(database)
    store.upsert(conn, "file-new", store.rows_for(*video("file-new", "file:///t/new.ogg", [
        ("The harbour master counted boats each evening.", "factual", "A", 5.0)])))  # fmt: skip
    conn.close()
    assert cf_cli.main([*argv, "--json", "--configfile", str(config)]) == 0
    assert {row["vid"] for row in json.loads(capsys.readouterr().out)} == {"youtube-said", "file-new"}


def test_a_database_from_before_the_codes_is_migrated_and_coded_from_the_segments_it_holds(tmp_path: Path, coder):
    import sqlite3

    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(13):  # schema 13, as the previous release left it
        store.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version=13")
    download, transcript, claims_doc, evaluation = _said()
    rows = store.rows_for(download, transcript, claims_doc, evaluation)
    for table in store.VIDEO_TABLES:
        store._insert(conn, table, rows.get(table, []))
    conn.close()
    with pytest.raises(query.QueryError, match="no codes of what was said yet"):
        query.said_by_meaning(path, "ships", coder)  # read-only: never migrates
    assert said.code_stored(path, coder) == 1
    assert [row.segment_id for row, _ in query.said_by_meaning(path, "boats at night", coder, limit=1)] == [2]

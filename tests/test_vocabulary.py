"""The vocabulary setting (a list or a file), a video's terms with its collections', the miner's
note, and the ranked jargon export that a next batch's vocabulary reads back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from claimflow.batch import vocabulary
from claimflow.knowledge import chunk, mine
from claimflow.store import database as store
from tests.test_query import video

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")


def test_terms_come_from_a_list_or_a_file_with_comments_once_each(tmp_path):
    assert vocabulary.read_terms(["Kubrelix", " kubrelix ", "Quorvium", ""]) == ("Kubrelix", "Quorvium")
    terms = tmp_path / "terms.txt"
    terms.write_text("# products\nKubrelix\n\nQuorvium  # a database\n  Datavoxa dashboards \n")
    assert vocabulary.read_terms("terms.txt", cwd=tmp_path) == ("Kubrelix", "Quorvium", "Datavoxa dashboards")
    assert vocabulary.read_terms(None) == () == vocabulary.read_terms([])


def test_a_missing_vocabulary_file_names_the_key_and_the_fix(tmp_path):
    with pytest.raises(vocabulary.VocabularyError, match=r"collections\[1\].vocabulary: the vocabulary file "
                       r"'nope.txt' cannot be read .*Write one term per line"):  # fmt: skip
        vocabulary.read_terms("nope.txt", "collections[1].vocabulary", cwd=tmp_path)


def test_a_videos_terms_are_the_batchs_then_its_collections(tmp_path):
    assert vocabulary.for_video(("A", "B"), [("b", "C"), ("D",)]) == ("A", "B", "C", "D")
    assert vocabulary.hotwords(("A", "B")) == "A, B" and vocabulary.hotwords(()) is None


def test_the_miner_is_told_the_terms_as_known_jargon():
    window = chunk.windows([{"id": 1, "start": 0.0, "end": 2.0, "text": "We deployed Kubrelix."}], 800, 50, 1200, 0)[0]
    told = mine.messages_for(window, "mine.v1", ["Kubrelix", "Quorvium"])
    assert told[-1]["content"].startswith("Known jargon of this batch") and "Kubrelix, Quorvium." in told[-1]["content"]
    assert told[-1]["content"].endswith(window.numbered_text())
    plain = mine.messages_for(window, "mine.v1")
    assert plain[-1]["content"] == "Transcript:\n" + window.numbered_text()


@pytest.mark.integration
def test_the_jargon_export_ranks_by_videos_and_reads_back_as_a_vocabulary(tmp_path):
    db = tmp_path / "results" / "claimflow.sqlite"
    conn = store.connect(db)
    for vid, terms in {"v1": ["Kubrelix", "hotwords"], "v2": ["kubrelix", "Quorvium"], "v3": ["Kubrelix"]}.items():
        rows = store.rows_for(*video(vid, "file:///x.ogg", [("A claim.", "factual", "A", 1.0)]))
        rows["jargon"] = [{"vid": vid, "item_id": f"j{i}", "term": t, "definition": "d"} for i, t in enumerate(terms)]
        store.upsert(conn, vid, rows)
    conn.close()
    assert vocabulary.ranked_jargon(db) == [("Kubrelix", 3), ("hotwords", 1), ("Quorvium", 1)]
    assert vocabulary.ranked_jargon(db, min_videos=2) == [("Kubrelix", 3)]
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"results": str(tmp_path / "results")}))
    out = tmp_path / "next.txt"
    run = subprocess.run([CLAIMFLOW, "vocabulary", "--configfile", str(tmp_path / "cfg.yaml"), "--limit", "2",
                          "-o", str(out)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "2 term(s) written" in run.stderr
    assert "Kubrelix  # 3 videos" in out.read_text()
    assert vocabulary.read_terms(str(out)) == ("Kubrelix", "hotwords")  # the file `vocabulary` reads

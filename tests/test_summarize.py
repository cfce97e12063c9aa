"""A summary per video (claimflow/knowledge/summarize.py): the excerpt a request carries, the
bundled model's answer, the database's rows and their search, and a failing endpoint."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from claimflow.knowledge import summarize
from claimflow.llm import client as llm
from claimflow.store import database as store
from claimflow.store import query
from tests.conftest import REPO
from tests.harness.llmserver import FaultProxy, LLMFault

SLEEP = (REPO / "demo/texts/sleep.txt").read_text()


def _segments(text: str, seconds: float = 4.0) -> list[dict]:
    sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
    return [{"id": i + 1, "start": i * seconds, "end": (i + 1) * seconds, "text": s} for i, s in enumerate(sentences)]


def test_a_long_transcript_is_sampled_in_whole_segments_from_start_to_end():
    segments = [
        {"id": i, "start": i, "end": i + 1, "text": f"Sentence number {i} of the long talk."} for i in range(800)
    ]
    passage = summarize.excerpt(segments, 3000)
    assert len(passage.text) <= 3000 and passage.segments == 800 and 40 < passage.segments_sent < 800
    assert passage.text.startswith("Sentence number 0 of") and " ... " in passage.text
    # Whole segments only, spread over the whole talk: the last tenth is in it, no sentence is cut.
    numbers = [int(w) for w in passage.text.replace(".", " ").split() if w.isdigit()]
    assert max(numbers) >= 720 and all(f"Sentence number {n} of the long talk." in passage.text for n in numbers)
    short = summarize.excerpt(_segments(SLEEP), 6000)
    assert short.segments_sent == short.segments and "..." not in short.text and short.text.startswith("Sleep is")


def test_a_transcript_without_speech_asks_nothing():
    found = summarize.summarize("v", {"status": "no_speech", "reason": "silence", "segments": []}, None, None)
    assert (found.status, found.reason) == ("skipped", "silence")


@pytest.mark.integration  # the bundled model
def test_the_bundled_model_summarizes_a_transcript_and_the_summary_is_searchable(tmp_path):
    client = llm.from_config({"provider": "local", "max_tokens": 600}, threads=2, state_dir=tmp_path)
    transcript = {"status": "ok", "segments": _segments(SLEEP)}
    found = summarize.summarize("file-sleep", transcript, "Why we sleep", client, key_points=3)
    assert found.status == "ok", found.reason
    assert found.summary and len(found.summary) <= summarize.SUMMARY_CHARS
    assert 1 <= len(found.key_points) <= 3 and all(len(p) <= summarize.POINT_CHARS for p in found.key_points)
    assert client.usage.requests == 1
    # Asked again (a rerun): the cache answers, no request.
    again = llm.from_config({"provider": "local", "max_tokens": 600}, threads=2, state_dir=tmp_path)
    assert summarize.summarize("file-sleep", transcript, "Why we sleep", again, key_points=3) == found
    assert again.usage.requests == 0 and again.usage.cached == 1

    db = tmp_path / "claimflow.sqlite"
    store.store_summary(db, found, "local:bundled", timeout=5)
    store.store_summary(db, found, "local:bundled", timeout=5)  # a rerun replaces, never adds
    (row,) = query.summaries(db)
    assert (row.vid, row.summary, row.key_points, row.model) == ("file-sleep", found.summary, found.key_points,
                                                                 "local:bundled")  # fmt: skip
    word = max((w.strip(".,;:!?\"'()").lower() for w in found.summary.split()), key=len)
    assert [r.vid for r in query.summaries(db, text=word)] == ["file-sleep"]
    assert query.summaries(db, text="zyzzyva") == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM summaries_fts").fetchone() == (1,)
    # The CLI: search and export, from a config that points at the folder.
    (tmp_path / "config.yaml").write_text(f"results: {tmp_path}\nstate: {tmp_path / 'state'}\n")
    cli = [sys.executable, "-m", "claimflow.cli"]
    said = subprocess.run([*cli, "search", word, "--summaries", "--json", "--configfile",
                           str(tmp_path / "config.yaml")], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert said.returncode == 0, said.stderr
    assert [r["vid"] for r in json.loads(said.stdout)] == ["file-sleep"]
    both = subprocess.run([*cli, "search", word, "--summaries", "--tier", "A", "--configfile",
                           str(tmp_path / "config.yaml")], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert both.returncode == 2 and "--summaries" in both.stderr and "--tier" in both.stderr
    out = tmp_path / "summaries.csv"
    export = subprocess.run([*cli, "export", "--what", "summaries", "--format", "csv", "-o", str(out), "--configfile",
                             str(tmp_path / "config.yaml")], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert export.returncode == 0, export.stderr
    header, line = out.read_text().splitlines()[:2]
    assert header == "vid,title,upload_date,summary,key_points,model" and line.startswith("file-sleep,")


@pytest.mark.slow
def test_an_endpoint_that_breaks_the_schema_or_fails_leaves_the_video_unsummarized(llama_base_url, tmp_path):
    transcript = {"status": "ok", "segments": _segments(SLEEP)}
    config = {"provider": "openai", "model": "smollm2", "max_tokens": 300, "timeout": 600, "max_retries": 1,
              "requests_per_minute": 6000, "response_format": "json_object"}  # fmt: skip
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault("bad_schema", times=None))  # every answer outside the schema
        client = llm.from_config(config | {"base_url": proxy.base_url}, threads=1, state_dir=tmp_path)
        found = summarize.summarize("file-sleep", transcript, None, client)
        assert found.status == "failed" and "schema" in found.reason
        assert [r.answer for r in proxy.requests] == ["bad_schema", "bad_schema"]  # the answer and its one repair
        proxy.faults[:] = []
        proxy.add(LLMFault("status", status=500, times=None))
        fresh = llm.from_config(config | {"base_url": proxy.base_url}, threads=1, state_dir=tmp_path / "other")
        with pytest.raises(llm.EndpointError):  # an endpoint fault fails the job, never a summary of nothing
            summarize.summarize("file-sleep", transcript, None, fresh)
    # Nothing cached from either: a plain rerun asks again.
    again = llm.from_config(config | {"base_url": llama_base_url}, threads=1, state_dir=tmp_path)
    assert summarize.summarize("file-sleep", transcript, None, again).status == "ok"
    assert again.usage.requests == 1

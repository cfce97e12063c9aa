"""link.embedding endpoint:MODEL: an OpenAI-compatible /v1/embeddings on loopback (the bundled
SmolLM2 behind a real HTTP server, tests/harness/embedserver.py), its answers cached by content,
its key sent and never shown, its faults named; and the search by meaning through it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from claimflow.knowledge import embed
from claimflow.store import clusters, query
from claimflow.store import database as store
from tests.harness.embedserver import EmbeddingServer

pytestmark = pytest.mark.integration  # a server and the local model

TEXTS = ["Deep sleep stores the day's memories.", "Sleep consolidates memory.", "Forests hold carbon.",
         "Caffeine blocks adenosine.", "Old trees store more carbon than young ones."]  # fmt: skip


@pytest.fixture(scope="module")
def server():
    with EmbeddingServer() as running:
        yield running


def _config(server: EmbeddingServer, **endpoint) -> dict:
    return {"link": {"endpoint": {"base_url": server.base_url, **endpoint}}, "llm": {"api_key_env": "OPENAI_API_KEY"}}


def test_the_endpoint_embeds_in_batches_and_a_second_run_asks_nothing(server, tmp_path):
    server.requests.clear()
    first = embed.embedder("endpoint:smollm2", _config(server, batch_size=2), tmp_path / "cache")
    vectors = first.embed(TEXTS)
    assert vectors.shape == (5, 576) and first.model.identity == "openai:smollm2:576"
    assert [r.texts for r in server.requests] == [2, 2, 1] and first.requests == 3
    # The same texts again (a rerun, a rebuild): from the cache, no request, the same vectors.
    again = embed.embedder("endpoint:smollm2", _config(server, batch_size=2), tmp_path / "cache")
    assert np.array_equal(again.embed(TEXTS), vectors) and again.cached == 1 and len(server.requests) == 3
    assert again.model.identity == first.model.identity
    # One text changed: the video's request is made again (the cache is by content).
    assert again.embed([*TEXTS[:4], "Forests burn."]).shape == (5, 576) and len(server.requests) == 6


def test_the_key_is_sent_and_never_shown_and_a_failing_endpoint_is_named(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_EMBED_KEY", "sk-embed-secret-123")
    server.requests.clear()
    config = _config(server, api_key_env="CLAIMFLOW_EMBED_KEY", max_retries=0)
    embedder = embed.embedder("endpoint:smollm2", config, tmp_path / "cache")
    embedder.embed(TEXTS[:1])
    assert server.requests[-1].authorization == "Bearer sk-embed-secret-123"
    server.fail_with = 500
    try:
        with pytest.raises(embed.EmbeddingEndpointError) as failed:
            embed.embedder("endpoint:smollm2", config, tmp_path / "other").embed(TEXTS[1:2])
    finally:
        server.fail_with = None
    message = str(failed.value)
    assert server.base_url in message and "HTTP 500" in message and "sk-embed-secret" not in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__  # no openai traceback to print
    assert not list((tmp_path / "other").rglob("*.json"))  # nothing cached from a failure


def test_no_address_and_no_key_is_refused_before_any_request(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_NO_KEY", raising=False)
    embedder = embed.embedder("endpoint:text-embedding-3-small", {"llm": {"api_key_env": "CLAIMFLOW_NO_KEY"}})
    with pytest.raises(embed.EmbeddingEndpointError, match="CLAIMFLOW_NO_KEY is not set"):
        embedder.embed(TEXTS[:1])


def test_claims_linked_through_the_endpoint_are_found_by_meaning(server, tmp_path):
    from tests.test_store import _docs

    db = tmp_path / "claimflow.sqlite"
    embedder = embed.embedder("endpoint:smollm2", _config(server), tmp_path / "cache")
    for n, text in enumerate(TEXTS):
        vid = f"v{n}"
        download, transcript, claims_doc, evaluation = _docs(vid, 1)
        claims_doc["claims"][0]["claim_text"] = text
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)
        record = embed.embed_video(vid, claims_doc, evaluation, embedder)
        assert record.model == "openai:smollm2:576" and len(record.claim_ids) == 1
        clusters.link_record(db, record, clusters.Linking(same=0.999, near=0.5), timeout=5)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT model FROM video_vectors").fetchall() == [("openai:smollm2:576",)]
    # A fresh process's embedder, its size unknown until it asks: the query is embedded first,
    # then the index of its model read; the claim itself comes first.
    asking = embed.embedder("endpoint:smollm2", _config(server), tmp_path / "cache")
    (best, similarity), *_ = query.meaning(db, TEXTS[2], asking, limit=3)
    assert (best.vid, best.claim_text) == ("v2", TEXTS[2]) and similarity > 0.99
    # The bundled model's index is another: nothing of it here.
    with pytest.raises(query.QueryError, match="no claim linked yet"):
        query.meaning(db, TEXTS[2], embed.embedder("wordllama"))

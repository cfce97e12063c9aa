"""The local provider: the bundled SmolLM2-135M through llama-cpp-python, for real."""

import dataclasses

import pytest

from claimflow.core import settings
from claimflow.knowledge import evaluate, mine
from claimflow.llm import client as llm

pytestmark = pytest.mark.integration  # the bundled model

SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string", "maxLength": 40}, "count": {"type": "integer", "enum": [1, 2, 3]}},
    "required": ["topic", "count"],
}
MESSAGES = [{"role": "user", "content": "Give the topic of 'cats purr when happy' and a count. Answer in JSON."}]
SEGMENTS = [
    {"id": 1, "start": 0.0, "end": 3.2, "text": "Forests store a large share of the carbon on land."},
    {
        "id": 2,
        "start": 3.2,
        "end": 7.9,
        "text": "When a forest burns or is cleared, that carbon returns to the atmosphere.",
    },
    {"id": 3, "start": 7.9, "end": 11.0, "text": "Planting trees helps, but protecting old forests helps more,"},
    {"id": 4, "start": 11.0, "end": 14.5, "text": "because old trees hold far more carbon than young ones."},
]


@pytest.fixture
def client(tmp_path):
    return llm.from_config({"provider": "local", "max_tokens": 200}, threads=2, state_dir=tmp_path)


def test_answer_follows_the_schema(client):
    data = client.complete_json(MESSAGES, SCHEMA, name="t")
    assert set(data) == {"topic", "count"} and data["count"] in (1, 2, 3)
    assert client.usage.requests == 1 and client.usage.completion_tokens > 0


def test_second_identical_request_is_served_from_the_cache(client, tmp_path):
    first = client.complete_json(MESSAGES, SCHEMA, name="t")
    again = llm.from_config({"provider": "local", "max_tokens": 200}, threads=2, state_dir=tmp_path)
    assert again.complete_json(MESSAGES, SCHEMA, name="t") == first
    assert again.usage.requests == 0 and again.usage.cached == 1


def test_truncated_answer_gets_one_repair_then_fails_clearly(tmp_path):
    # Below the schema's minimum on purpose (a config could not ask for it): a cut-off answer.
    loaded = settings.load()
    tiny = llm.client(dataclasses.replace(loaded.llm, max_tokens=3), loaded.llm_runtime, threads=2)
    with pytest.raises(llm.InvalidOutput, match="not JSON"):
        tiny.complete_json(MESSAGES, SCHEMA, name="t")
    assert tiny.usage.requests == 2  # the answer and exactly one repair attempt


def test_mining_grounds_every_quote_in_the_transcript(tmp_path):
    client = llm.from_config({"provider": "local", "max_tokens": 1200}, threads=2)
    cfg = settings.load({"mine": {"limits": {"claims": 5, "jargon": 3, "people": 3, "mental_models": 2}}}).mine
    result = mine.run({"vid": "f", "status": "ok", "segments": SEGMENTS}, client, cfg)
    full = " ".join(s["text"] for s in SEGMENTS)
    assert result["windows"] == 1 and not result["failed_windows"]
    assert result["claims"], "the bundled model finds at least one grounded claim here"
    for kind in ("claims", "jargon", "mental_models"):
        for item in result[kind]:
            for span in item["evidence_spans"]:
                assert span["quote"] in full
                seg = {s["id"]: s for s in SEGMENTS}[span["segment_ids"][0]]
                assert span["t0"] == seg["start"]
    evaluation = evaluate.run(result, client, settings.load().evaluate)
    assert {e["claim_id"] for e in evaluation["evaluations"]} == {c["claim_id"] for c in result["claims"]}
    for entry in evaluation["evaluations"]:
        if entry["decision"] in ("accept", "reject"):
            assert entry["tier"] == evaluate.tier_for(entry["score"], evaluation["tiers"])


def test_videos_without_speech_get_empty_results_and_no_requests():
    client = llm.from_config({"provider": "local"}, threads=1)
    defaults = settings.load()
    transcript = {"vid": "s", "status": "no_speech", "reason": "no speech detected", "segments": []}
    result = mine.run(transcript, client, defaults.mine)
    assert result["status"] == "no_speech" and result["claims"] == []
    assert evaluate.run(result, client, defaults.evaluate)["evaluations"] == []
    assert client.usage.requests == 0

"""The openai provider against a real OpenAI-compatible server (llama_cpp.server with the
bundled model) on loopback, directly and through a fault-injecting proxy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claimflow.core import settings
from claimflow.knowledge import mine
from claimflow.llm import client as llm
from tests.harness.llmserver import FaultProxy, LLMFault
from tests.test_llm_local import MESSAGES, SCHEMA, SEGMENTS

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fresh_endpoint_memory():
    llm._FORMAT_CHOICE.clear()
    llm._openai_client.cache_clear()
    yield
    llm._FORMAT_CHOICE.clear()


def _client(base_url: str, state_dir, **settings) -> llm.Client:
    # A generous timeout: the server is the bundled model on this machine, as slow as the machine
    # is busy; only the tests of the timeout itself set one, relative to the measured answer time.
    config = {"provider": "openai", "base_url": base_url, "model": "smollm2", "max_tokens": 200, "timeout": 600,
              "max_retries": 3, "requests_per_minute": 6000} | settings  # fmt: skip
    return llm.from_config(config, threads=1, state_dir=state_dir)


def test_mining_through_the_openai_client_falls_back_from_json_schema_once(llama_base_url, tmp_path):
    with FaultProxy(llama_base_url) as proxy:
        client = _client(proxy.base_url, tmp_path, max_tokens=1200, timeout=300)
        result = mine.run(
            {"vid": "f", "status": "ok", "segments": SEGMENTS},
            client,
            settings.load({"mine": {"limits": {"claims": 5}}}).mine,
        )
    full = " ".join(s["text"] for s in SEGMENTS)
    assert result["claims"] and not result["failed_windows"]
    assert all(span["quote"] in full for c in result["claims"] for span in c["evidence_spans"])
    # llama.cpp's server refuses json_schema (HTTP 500): probed once without retries, then json_object.
    kinds = [(r.response_format, r.answer) for r in proxy.requests]
    assert kinds[0] == ("json_schema", "ok") or kinds[0][0] == "json_schema"
    assert all(kind == "json_object" for kind, _ in kinds[1:])
    assert json.loads((tmp_path / "llm-endpoints.json").read_text()) == {f"{proxy.base_url}|smollm2": "json_object"}
    assert result["usage"]["requests"] == 1 and result["usage"]["completion_tokens"] > 0


def test_a_later_process_remembers_what_the_endpoint_accepts(llama_base_url, tmp_path):
    (tmp_path / "llm-endpoints.json").write_text(json.dumps({f"{llama_base_url}|smollm2": "json_object"}))
    client = _client(llama_base_url, tmp_path)
    client.complete_json(MESSAGES, SCHEMA, "t")
    assert client.usage.requests == 1  # no json_schema probe: the remembered format was used


def _answer_seconds(base_url: str, state_dir) -> float:
    """How long the real server takes to answer MESSAGES on this machine now (busy or not)."""
    import time

    client = _client(base_url, state_dir, response_format="json_object", cache=False)
    began = time.monotonic()
    client.complete_json(MESSAGES, SCHEMA, "t")
    return time.monotonic() - began


@pytest.mark.parametrize(
    ("fault", "answers"),
    [
        (LLMFault("status", status=429, headers={"Retry-After": "1"}), ["429", "ok"]),
        (LLMFault("status", status=500), ["500", "ok"]),
        (LLMFault("hang"), ["hang", "ok"]),
    ],
    ids=["429-retry-after", "500", "hang-past-timeout"],
)
def test_transient_server_faults_are_retried_by_the_client(llama_base_url, tmp_path, fault, answers):
    timeout = 600.0
    if fault.action == "hang":
        # The timeout under test, set from the server's measured answer time (a busy machine
        # answers slower), and the hang twice as long as the timeout.
        timeout = max(2.0, 4 * _answer_seconds(llama_base_url, tmp_path / "probe"))
        fault.delay = 2 * timeout
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(fault)
        client = _client(proxy.base_url, tmp_path, response_format="json_object", timeout=timeout)
        data = client.complete_json(MESSAGES, SCHEMA, "t")
    assert set(data) == {"topic", "count"}
    assert [r.answer for r in proxy.requests] == answers
    wait = proxy.requests[1].t - proxy.requests[0].t
    if fault.status == 429:
        assert wait >= 1.0  # Retry-After honoured
    if fault.action == "hang":
        assert timeout <= wait < 2 * timeout  # the client gave up at its timeout, not when the server answered
    assert client.usage.requests == 1  # one logical request; the retries were the client's


def first_minute() -> list[LLMFault]:
    """429 (Retry-After: 1), 429, 500: a rate-limited API at a batch's first requests (fresh
    objects each time: the proxy counts a fault down as it serves it)."""
    return [LLMFault("status", status=429, headers={"Retry-After": "1"}), LLMFault("status", status=429),
            LLMFault("status", status=500)]  # fmt: skip


def test_the_format_probe_is_retried_through_429_429_500_at_the_first_requests(llama_base_url, tmp_path):
    # A rate-limited API at the very start of a batch: the probe must not spend the job's retries.
    with FaultProxy(llama_base_url) as proxy:
        for fault in first_minute():
            proxy.add(fault)
        client = _client(proxy.base_url, tmp_path)
        data = client.complete_json(MESSAGES, SCHEMA, "t")
    assert set(data) == {"topic", "count"}
    seen = [(r.answer, r.response_format) for r in proxy.requests]
    # three faults, the real refusal of json_schema (llama.cpp's 500), then json_object
    assert seen == [("429", "json_schema"), ("429", "json_schema"), ("500", "json_schema"), ("ok", "json_schema"),
                    ("ok", "json_object")]  # fmt: skip
    assert proxy.requests[1].t - proxy.requests[0].t >= 1.0  # Retry-After honoured
    assert json.loads((tmp_path / "llm-endpoints.json").read_text()) == {f"{proxy.base_url}|smollm2": "json_object"}


def _first_request(base_url: str, state_dir: str, start, out: str) -> None:  # noqa: ANN001 - an Event
    start.wait(30)
    client = _client(base_url, state_dir)
    Path(out).write_text(json.dumps(client.complete_json(MESSAGES, SCHEMA, "t")))


def test_four_jobs_starting_together_agree_on_one_format_through_the_faults(llama_base_url, tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with FaultProxy(llama_base_url) as proxy:
        for fault in first_minute():
            proxy.add(fault)
        start = context.Event()
        jobs = [context.Process(target=_first_request, args=(proxy.base_url, str(tmp_path), start,
                                                             str(tmp_path / f"answer{n}.json")))
                for n in range(4)]  # fmt: skip
        for job in jobs:
            job.start()
        start.set()
        for job in jobs:
            job.join(300)
    assert [job.exitcode for job in jobs] == [0] * 4
    answers = [json.loads((tmp_path / f"answer{n}.json").read_text()) for n in range(4)]
    assert all(set(a) == {"topic", "count"} for a in answers)
    probes = [r for r in proxy.requests if r.response_format == "json_schema"]
    # one probe sequence for all four (the faults and the refusal), then json_object for each
    assert [r.answer for r in probes] == ["429", "429", "500", "ok"]
    assert len([r for r in proxy.requests if r.response_format == "json_object"]) == 4


@pytest.mark.parametrize("action", ["malformed", "bad_schema"])
def test_invalid_answers_get_exactly_one_repair(llama_base_url, tmp_path, action):
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault(action))
        client = _client(proxy.base_url, tmp_path, response_format="json_object")
        data = client.complete_json(MESSAGES, SCHEMA, "t")
    assert set(data) == {"topic", "count"}
    assert [r.answer for r in proxy.requests] == [action, "ok"]
    assert client.usage.requests == 2


def test_a_window_that_stays_invalid_is_recorded_and_the_video_completes(llama_base_url, tmp_path):
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault("bad_schema", times=None))
        client = _client(proxy.base_url, tmp_path, response_format="json_object")
        result = mine.run({"vid": "f", "status": "ok", "segments": SEGMENTS}, client, settings.load().mine)
    assert result["claims"] == []
    assert len(result["failed_windows"]) == 1
    assert result["failed_windows"][0]["reason"].startswith("schema violation")
    assert len(proxy.requests) == 2  # the answer and one repair, nothing more


def test_missing_api_key_for_openai_proper_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_TEST_KEY", raising=False)
    client = llm.from_config({"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "CLAIMFLOW_TEST_KEY"})
    with pytest.raises(llm.EndpointError, match="CLAIMFLOW_TEST_KEY is not set"):
        client.complete_json(MESSAGES, SCHEMA, "t")


def test_api_key_never_reaches_logs_or_errors(llama_base_url, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CLAIMFLOW_TEST_KEY", "sk-secret-test-key-123456")
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault("status", status=401, times=None))
        client = _client(proxy.base_url, tmp_path, response_format="json_object", api_key_env="CLAIMFLOW_TEST_KEY")
        with pytest.raises(Exception) as failure:
            client.complete_json(MESSAGES, SCHEMA, "t")
    assert "sk-secret-test-key-123456" not in str(failure.value) + caplog.text
    assert os.environ["CLAIMFLOW_TEST_KEY"]  # it was set: the client used it


def test_raw_newlines_inside_strings_are_taken_without_a_repair(tmp_path):
    # Small models behind llama.cpp write literal newlines inside JSON strings (seen on an hour
    # of demo speech); strict json.loads rejected every such window.
    with FaultProxy() as server:
        server.add(LLMFault("content", content='{"topic": "two\nlines", "count": 2}'))
        client = _client(server.base_url, tmp_path, response_format="json_object")
        assert client.complete_json(MESSAGES, SCHEMA, "t") == {"topic": "two\nlines", "count": 2}
    assert [r.answer for r in server.requests] == ["content"]

"""Mining and evaluation through the real workflow with the openai provider, against the real
llama_cpp.server behind a fault-injecting proxy: the batch completes, and a rerun of the LLM
stages is served entirely from the cache (zero requests counted at the server)."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
import yaml

from tests.conftest import DEMO_CONFIG, REPO, planned_jobs, run_workflow
from tests.harness.llmserver import FaultProxy, LLMFault

pytestmark = pytest.mark.slow

# Two of the demo's clips (what is under test is the client's handling of the faults, which two
# videos' mine jobs starting together exercise as three do, at two thirds of the model's time).
TWO_CLIPS = [str(REPO / "demo/sleep.ogg"), str(REPO / "demo/forests.ogg")]


def _snakemake(workdir, *args):
    return run_workflow(workdir, *args, jobs=4, configs=(DEMO_CONFIG, workdir / "config.yaml"), env=dict(os.environ))


def test_batch_completes_through_faults_and_a_rerun_spends_nothing(llama_base_url, tmp_path):
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault("status", status=429, headers={"Retry-After": "1"}))
        proxy.add(LLMFault("status", status=500))
        proxy.add(LLMFault("malformed"))
        config = {
            "sources": TWO_CLIPS,
            "llm": {"provider": "openai", "base_url": proxy.base_url, "model": "smollm2", "timeout": 300,
                    "max_retries": 4, "requests_per_minute": 600,
                    "prices": {"smollm2": {"prompt": 0.15, "completion": 0.6}}},
        }  # fmt: skip
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        _snakemake(tmp_path)
        answers = [r.answer for r in proxy.requests]
        assert {"429", "500", "malformed"} <= set(answers)
        first_pass = len(proxy.requests)
        _snakemake(tmp_path, "--forcerun", "mine", "evaluate")
        assert len(proxy.requests) == first_pass  # every answer came from the cache
    results = tmp_path / "results"
    usage = json.loads((results / "usage.json").read_text())
    assert usage["by_status"] == {"ok": 2}
    assert usage["llm_requests"] == 0  # the latest run spent nothing
    rated = 0
    for vid in ("file-sleep", "file-forests"):
        claims = json.loads((results / vid / "claims.json").read_text())
        rated += bool(claims["claims"])
        assert claims["provider"] == "openai" and not claims["failed_windows"]
        assert claims["usage"]["cost_usd"] == 0.0  # cached: no new tokens, no new cost
    # One mine window per clip, and one evaluation request per clip with claims to rate.
    assert usage["llm_cached"] >= 2 + rated


def test_a_rate_limited_api_at_the_batchs_first_requests_costs_no_job(llama_base_url, tmp_path):
    # 429 (Retry-After: 1), 429, 500 on the very first requests, with the mine jobs starting
    # together and Snakemake's own retries off: the format probe must ride them out itself.
    with FaultProxy(llama_base_url) as proxy:
        proxy.add(LLMFault("status", status=429, headers={"Retry-After": "1"}))
        proxy.add(LLMFault("status", status=429))
        proxy.add(LLMFault("status", status=500))
        config = {
            "sources": TWO_CLIPS,
            "llm": {"provider": "openai", "base_url": proxy.base_url, "model": "smollm2", "timeout": 300,
                    "max_retries": 4, "requests_per_minute": 600},
        }  # fmt: skip
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        _snakemake(tmp_path, "--retries", "0")
        answers = [r.answer for r in proxy.requests]
    assert answers[:3] == ["429", "429", "500"]
    usage = json.loads((tmp_path / "results/usage.json").read_text())
    assert usage["by_status"] == {"ok": 2}  # every video mined and evaluated, no job failed
    for vid in ("file-sleep", "file-forests"):
        assert not json.loads((tmp_path / "results" / vid / "claims.json").read_text())["failed_windows"]
    formats = [r.response_format for r in proxy.requests]
    assert formats.count("json_schema") == 4  # one probe sequence for the batch, then json_object


def test_each_stage_asks_its_own_model_and_a_new_evaluation_model_reruns_evaluation_only(llama_base_url, tmp_path):
    # A cheap model for the mining windows, a stronger one for evaluation, on one endpoint (the
    # real llama_cpp.server answers any model name with its one model; the proxy counts by name).
    with FaultProxy(llama_base_url) as proxy:
        config = {
            "sources": TWO_CLIPS,
            "llm": {"provider": "openai", "base_url": proxy.base_url, "model": "cheap-miner", "timeout": 300,
                    "requests_per_minute": 600},
            "evaluate": {"llm": {"model": "strong-rater", "max_tokens": 1200}},
        }  # fmt: skip
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        _snakemake(tmp_path)
        asked = Counter(r.model for r in proxy.requests)
    results = tmp_path / "results"
    spent = Counter()
    for vid in ("file-sleep", "file-forests"):
        claims = json.loads((results / vid / "claims.json").read_text())
        evaluation = json.loads((results / vid / "evaluation.json").read_text())
        assert claims["provenance"]["model"] == "cheap-miner", claims["provenance"]
        assert evaluation["provenance"]["model"] == "strong-rater", evaluation["provenance"]
        spent["cheap-miner"] += claims["usage"]["requests"]
        spent["strong-rater"] += evaluation["usage"]["requests"]
    assert set(asked) <= {"cheap-miner", "strong-rater"} and spent["cheap-miner"] > 0 and spent["strong-rater"] > 0
    # Each model's requests at the server: its stage's, plus its own response-format probe.
    assert asked["cheap-miner"] >= spent["cheap-miner"] and asked["strong-rater"] >= spent["strong-rater"]
    assert asked["strong-rater"] <= spent["strong-rater"] + 1, asked

    def planned(change: dict) -> set[tuple[str, str]]:
        (tmp_path / "change.yaml").write_text(yaml.safe_dump(change))
        run = run_workflow(tmp_path, "-n", configs=(DEMO_CONFIG, tmp_path / "config.yaml", tmp_path / "change.yaml"))
        return {job for job in planned_jobs(run.stdout + run.stderr) if job[1]}

    vids = ("file-sleep", "file-forests")
    stronger = {"evaluate": {"llm": {"model": "stronger-rater", "max_tokens": 1200}}}
    assert planned(stronger) == {
        (rule, vid) for rule in ("evaluate", "store", "embed", "link", "judge") for vid in vids
    }
    # Its endpoint, key and rate are runtime: moving the evaluation model to another server reruns nothing.
    moved = {"evaluate": {"llm": {"model": "strong-rater", "max_tokens": 1200, "base_url": "http://127.0.0.1:9/v1",
                                  "api_key_env": "OTHER_KEY", "requests_per_minute": 30}}}  # fmt: skip
    assert planned(moved) == set()

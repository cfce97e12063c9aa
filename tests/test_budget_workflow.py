"""The LLM budget through a real `claimflow run` of the demo, four jobs at once, against the real
llama_cpp.server behind a counting proxy: priced so that the budget runs out in the middle of
the demo, the run stops starting LLM work and says so (outcomes, last line, exit 4, an alert),
its spend stays within the budget, and a rerun with a raised budget finishes the batch asking
only what was not answered before."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.conftest import REPO, RUN_TIMEOUT, workflow_command
from tests.harness.llmserver import FaultProxy
from tests.harness.receiver import Receiver
from tests.test_status_workflow import status_json

pytestmark = pytest.mark.slow

# A dollar per million tokens: the demo's six answers cost about $0.0041 (4,068 tokens), and a
# request's bound (its prompt at three characters a token, plus max_tokens 1,500) about $0.0025,
# so $0.0045 lets two or three requests start and stops the rest.
PRICE = {"prompt": 1.0, "completion": 1.0}
BUDGET = 0.0045


def test_the_budget_stops_llm_work_mid_demo_and_a_raised_budget_finishes_only_whats_missing(llama_base_url,
                                                                                              tmp_path):  # fmt: skip
    def run(budget: float, proxy: FaultProxy, receiver: Receiver) -> subprocess.CompletedProcess:
        config = {"sources": str(REPO / "demo/sources.txt"), "results": "results", "state": "state",
                  "notify": [receiver.url("alerts")],
                  "llm": {"provider": "openai", "base_url": proxy.base_url, "model": "smollm2", "timeout": 300,
                          "requests_per_minute": 600, "max_concurrency": 4, "prices": {"smollm2": PRICE},
                          "budget": {"usd": budget}}}  # fmt: skip
        (tmp_path / "test.yaml").write_text(yaml.safe_dump(config))
        command = workflow_command(tmp_path, runner="run", jobs=4)
        return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ))

    with FaultProxy(llama_base_url) as proxy, Receiver() as receiver:
        first = run(BUDGET, proxy, receiver)
        asked_first = list(proxy.requests)
        posts_first = list(receiver.posts)
        spend = json.loads((tmp_path / "results" / "llm-spend.json").read_text())
        status = status_json(tmp_path)
        summary = (tmp_path / "results" / "summary.tsv").read_text()
        second = run(1.0, proxy, receiver)
        asked_second = proxy.requests[len(asked_first) :]
    # The first run: stopped at the budget, not failed, with the fix.
    lines = [line for line in first.stderr.splitlines() if line.strip()]
    assert first.returncode == 4, first.stderr[-4000:]
    assert "budget reached (at " in lines[-1] and "0 failed" in lines[-1], lines[-1]
    assert any("LLM budget reached: spent $0.00" in line and "raise llm.budget.usd" in line for line in lines[-4:])
    assert "\tbudget:" in summary and "\tfailed:" not in summary
    # Within the budget, four jobs asking at once; some asked, some refused.
    assert 0 < spend["usd"] <= BUDGET and spend["reached"]["by"] == "usd", spend
    assert 0 < sum(r.answer == "ok" for r in asked_first) < 6
    # The alerts: the budget once, with the spend and the fix, then the run's end.
    titles = [p["title"] for p in posts_first]
    assert titles == ["claimflow: LLM budget reached", "claimflow run ended: budget reached (exit 4)"], titles
    assert "raise llm.budget.usd" in posts_first[0]["message"] and "of $0.0045" in posts_first[0]["message"]
    # Status says so, with the spend and the whole batch's projected.
    said = status["budget"]
    assert said["reached"] and said["cap_usd"] == BUDGET and said["usd"] == spend["usd"], said
    # The rerun with a raised budget: done, asking nothing the first run had answered.
    assert second.returncode == 0, second.stderr[-4000:]
    assert "3 ok" in [line for line in second.stderr.splitlines() if line.strip()][-1]
    answered = {r.messages for r in asked_first if r.answer == "ok"}
    assert asked_second and not answered & {r.messages for r in asked_second}
    assert "\tbudget:" not in (tmp_path / "results" / "summary.tsv").read_text()

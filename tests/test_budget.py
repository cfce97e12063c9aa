"""The LLM budget's ledger (claimflow/llm/budget.py): shared by processes under a lock, it never
lets their requests together pass the cap, a raised cap lets asking go on, a reservation its
process never settled lapses, and the run's last line counts what the budget stopped."""

from __future__ import annotations

import multiprocessing
import random

import pytest

from claimflow.core import atomic, settings
from claimflow.core.config import load as load_config
from claimflow.llm import budget
from claimflow.llm.budget import BudgetReached, Cost, Ledger
from claimflow.store import summary

PRICE = {"prompt": 0.15, "completion": 0.6}


def _ask_until_refused(path: str, cap: float, seed: int, queue) -> None:
    rng = random.Random(seed)
    ledger = Ledger(path, settings.LLMBudget(usd=cap, tokens=None), hold_seconds=60)
    asked = 0
    firsts = 0
    while True:
        bound = Cost.of(rng.randint(500, 3000), 600, PRICE)
        try:
            key = ledger.reserve(bound, "m")
        except BudgetReached as reached:
            firsts += reached.first
            break
        # An answer costs at most its bound (its prompt overestimated, its completion capped).
        ledger.settle(key, Cost.of(rng.randint(100, bound.tokens - 600), rng.randint(1, 600), PRICE), "m")
        asked += 1
    queue.put((asked, firsts))


@pytest.mark.integration  # four real processes against one lock file
def test_four_processes_asking_at_once_never_pass_the_budget_and_one_says_it_was_reached(tmp_path):
    path = str(tmp_path / "llm-spend.json")
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_ask_until_refused, args=(path, 0.01, seed, queue)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    done = [queue.get(timeout=5) for _ in workers]
    doc = atomic.read_json(path)
    assert doc["usd"] <= 0.01, doc
    assert doc["requests"] == sum(asked for asked, _ in done) > 4
    assert sum(first for _, first in done) == 1  # the alert is sent once
    assert doc["reached"]["by"] == "usd" and not doc["reserved"]


def test_once_reached_nothing_starts_until_the_cap_is_raised(tmp_path):
    path = tmp_path / "llm-spend.json"
    tight = Ledger(path, settings.LLMBudget(usd=None, tokens=1000), hold_seconds=60)
    tight.settle(tight.reserve(Cost(900, None), "m"), Cost(900, None), "m")
    with pytest.raises(BudgetReached) as refused:
        tight.reserve(Cost(200, None), "m")
    assert "llm.budget.tokens" in str(refused.value) and "900 of 1,000 tokens" in str(refused.value)
    with pytest.raises(BudgetReached):  # even a request that would fit: the stop holds
        tight.reserve(Cost(50, None), "m")
    assert "llm.budget.tokens" in budget.reached(tmp_path, settings.LLMBudget(None, 1000))  # the run's end says so
    assert budget.reached(tmp_path, settings.LLMBudget(None, 5000)) is None  # not once the cap is raised
    raised = Ledger(path, settings.LLMBudget(usd=None, tokens=5000), hold_seconds=60)
    raised.settle(raised.reserve(Cost(200, None), "m"), Cost(150, None), "m")
    doc = atomic.read_json(path)
    assert doc["tokens"] == 1050 and doc["reached"] is None


def test_a_reservation_never_settled_lapses(tmp_path):
    path = tmp_path / "llm-spend.json"
    ledger = Ledger(path, settings.LLMBudget(usd=None, tokens=1000), hold_seconds=-1)  # held until the past
    ledger.reserve(Cost(900, None), "m")  # its process killed before the answer
    ledger.reserve(Cost(900, None), "m")  # starts: the first one's hold has lapsed


def test_a_ledger_begun_mid_batch_counts_from_the_batchs_usage(tmp_path):
    atomic.write_json(tmp_path / "usage.json", {"prompt_tokens": 700, "completion_tokens": 200, "cost_usd": 0.002,
                                                "judge": {"prompt_tokens": 50, "completion_tokens": 50,
                                                          "cost_usd": 0.001}})  # fmt: skip
    ledger = Ledger.of_results(tmp_path, settings.LLMBudget(usd=0.0035, tokens=None), timeout=10, max_retries=1)
    with pytest.raises(BudgetReached):
        ledger.reserve(Cost(1000, 0.001), "m")  # 0.003 spent + 0.001 > 0.0035
    assert budget.read(tmp_path)["tokens"] == 1000


def test_the_projection_says_the_whole_batchs_spend_against_the_budget():
    projection = budget.Projection.of(tokens=50_000, usd=0.02, measured_hours=0.5, batch_hours=7000)
    assert projection.tokens == 700_000_000 and projection.usd == pytest.approx(280.0)
    line = projection.line(settings.LLMBudget(usd=100, tokens=None))
    assert "over llm.budget.usd ($100) by 2.8x" in line and "100,000 tokens per audio hour" in line
    assert "within llm.budget.tokens" in projection.line(settings.LLMBudget(usd=None, tokens=10**9))
    assert budget.Projection.of(tokens=0, usd=None, measured_hours=0, batch_hours=10) is None


def test_a_budget_in_money_needs_every_models_price():
    overrides = {"llm": {"provider": "openai", "model": "a", "prices": {"a": PRICE}, "budget": {"usd": 1}},
                 "evaluate": {"llm": {"model": "b"}}}  # fmt: skip
    with pytest.raises(settings.SettingsError, match=r"evaluate\.llm\.model or llm\.model\) has no price"):
        settings.check(load_config(overrides=overrides))
    overrides["llm"]["prices"]["b"] = PRICE
    settings.check(load_config(overrides=overrides))


def test_the_last_line_counts_videos_the_budget_stopped_and_exits_4():
    rows = [{"status": "ok"}, {"status": "budget:mine"}, {"status": "budget:evaluate"}, {"status": "budget:mine"}]
    line, code = summary.last_line(rows)
    assert "3 budget reached (at evaluate: 1, at mine: 2)" in line and code == budget.EXIT_BUDGET
    assert summary.last_line([*rows, {"status": "failed:download"}])[1] == 1  # a failure says more
    line, code = summary.last_line([{"status": "ok"}], held=1)
    assert "1 not judged or summarized (budget reached)" in line and code == budget.EXIT_BUDGET


def test_a_stop_while_requests_are_in_flight_says_what_they_hold():
    cap = settings.LLMBudget(usd=0.0045, tokens=None)
    doc = {"tokens": 0, "usd": 0.0, "priced": True, "reached": {"by": "usd", "cap": 0.0045},
           "reserved": {"a": {"tokens": 2500, "usd": 0.0025}, "b": {"tokens": 2400, "usd": 0.0024}}}  # fmt: skip
    said = budget.reached_message(doc, cap)
    assert "spent $0.0000 of $0.0045 (llm.budget.usd), 0 tokens with 2 requests in flight holding up to $0.0049" in said
    assert "in flight" not in budget.reached_message(doc | {"reserved": {}}, cap)

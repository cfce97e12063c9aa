"""The LLM judges candidate pairs of claims across videos (claimflow/knowledge/judge.py), for real
with the bundled model: every answer one of the four relations, the pair asked in one order, and
a second asking answered from the cache (no request)."""

from __future__ import annotations

import pytest

from claimflow.knowledge import judge
from claimflow.llm import client as llm

pytestmark = pytest.mark.integration  # the bundled model

SLEEP_A = judge.Side("v1/c001", "Deep sleep helps the brain store memories.",
                     "during deep sleep, the brain replays what it learned during the day, and stores it")  # fmt: skip
SLEEP_B = judge.Side("v0/c004", "Sleep plays no part in memory.", "sleep does nothing at all for memory")
FOREST = judge.Side("v2/c002", "Old forests hold more carbon than young ones.",
                    "old trees hold far more carbon than young ones")  # fmt: skip


def test_each_pair_gets_one_of_the_relations_in_one_order_and_a_rerun_asks_nothing(tmp_path):
    client = llm.from_config({"provider": "local", "max_tokens": 120}, threads=2, state_dir=tmp_path)
    verdicts = judge.judge([(SLEEP_A, SLEEP_B), (FOREST, SLEEP_A)], client)
    assert [(v.a, v.b) for v in verdicts] == [("v0/c004", "v1/c001"), ("v1/c001", "v2/c002")]
    assert all(v.relation in judge.RELATIONS for v in verdicts), verdicts
    asked = client.usage.requests
    assert asked >= 2
    again = llm.from_config({"provider": "local", "max_tokens": 120}, threads=2, state_dir=tmp_path)
    # The same pair the other way round is the same question: answered from the cache.
    assert judge.judge([(SLEEP_B, SLEEP_A)], again) == verdicts[:1]
    assert again.usage.requests == 0 and again.usage.cached == 1

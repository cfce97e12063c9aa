"""Agreement and contradiction across videos: the LLM judges a candidate pair of claims (two
claims of different videos near each other but not linked as the same: claimflow/store/
clusters.py) from both claims and both quotes: same, supports, contradicts or unrelated.

One request per pair, answered from the LLM cache on every rerun (the pair's text is the key:
the same two claims are never asked twice), counted in tokens and cost like every request.
A pair is always put in one order (by claim key), so (a, b) and (b, a) are one question.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from claimflow.core import prompts
from claimflow.llm.client import Client, LLMError

log = logging.getLogger(__name__)

RELATIONS = ("same", "supports", "contradicts", "unrelated")
PROMPT = "judge.v1"
# Who judged a claim and its negation (a pair at least `link.same` alike, one of them saying no):
# a rule, not the LLM. On SICK's test pairs at 0.90 or more alike by the bundled embedding, those
# whose negation differs are 419 contradictions, 7 neutral and no entailment (0.984), against
# 440 contradictions and 437 two-way entailments with the negation not looked at
# (benchmarks/similarity.py); the bundled SmolLM2-135M calls most pairs the same.
NEGATION_RULE = "claimflow:negation"


class NotJudged(RuntimeError):
    """The judge job's failure (an exception, not SystemExit: the job's log marks it failed, and
    the run's last line counts the video as not linked)."""


@dataclass(frozen=True)
class Side:
    """One claim of a pair, as the judge reads it."""

    key: str  # <vid>/<claim id>
    claim: str
    quote: str


@dataclass(frozen=True)
class Verdict:
    a: str
    b: str
    relation: str  # one of RELATIONS, or "failed"
    reason: str


def response_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "relation": {"type": "string", "enum": list(RELATIONS)},
            "reason": {"type": "string", "maxLength": 200},
        },
        "required": ["relation", "reason"],
    }


def _messages(first: Side, second: Side, prompt_name: str) -> list[dict[str, str]]:
    pair = {
        "first": {"claim": first.claim, "quote": first.quote},
        "second": {"claim": second.claim, "quote": second.quote},
    }
    return [
        {"role": "system", "content": prompts.load(prompt_name)},
        {"role": "user", "content": json.dumps(pair, ensure_ascii=False, indent=1)},
    ]


def by_negation(one: Side, other: Side, similarity: float) -> Verdict:
    """A claim and its negation: contradicting, by rule (NEGATION_RULE), no request."""
    first, second = sorted((one, other), key=lambda side: side.key)
    return Verdict(first.key, second.key, "contradicts",
                   f"one says no to what the other says ({similarity:.2f} alike in words)")  # fmt: skip


def judge(pairs: Iterable[tuple[Side, Side]], client: Client, prompt_name: str = PROMPT) -> list[Verdict]:
    """A verdict per pair; a pair the LLM could not answer is `failed` (asked again next run)."""
    verdicts = []
    for one, other in pairs:
        first, second = sorted((one, other), key=lambda side: side.key)
        try:
            answer = client.complete_json(_messages(first, second, prompt_name), response_schema(), name="judgement")
        except LLMError as exc:
            log.warning("pair %s / %s: not judged: %s", first.key, second.key, exc)
            verdicts.append(Verdict(first.key, second.key, "failed", str(exc)[:200]))
            continue
        relation = answer.get("relation")
        if relation not in RELATIONS:
            verdicts.append(Verdict(first.key, second.key, "failed", f"answered {relation!r}"))
            continue
        verdicts.append(Verdict(first.key, second.key, relation, str(answer.get("reason") or "")[:200]))
    return verdicts

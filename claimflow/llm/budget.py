"""The batch's LLM budget (`llm.budget`): a ledger of what the batch's requests cost, shared by
every job and process under a file lock (results/llm-spend.json), and the check before each
request.

Each request first reserves its bound under the lock: its prompt at three characters a token
(English runs near four, so this overestimates), with the schema it carries, plus the answer's
`max_tokens`, priced at its model's price. It starts only when the spend, every reservation in
flight and its bound together stay within the budget, so four jobs asking at once can never
pass it together; its answer then replaces the reservation by what it cost. A reservation its
process never settled (killed by kill -9, a node lost) lapses after the longest a request can
take (the timeout times its attempts), so it never blocks a rerun.

Without a budget the ledger still counts, so `claimflow status` shows the spend, and a budget
set on day three counts from the batch's start: a ledger made for a batch begun before it
existed starts from the batch's usage.json (what its outputs cost when they were made).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from claimflow.core import atomic, layout
from claimflow.core.layout import BUDGET_MARK
from claimflow.core.settings import LLMBudget

# The exit status of a run whose LLM work stopped at the budget (none failed, none interrupted).
EXIT_BUDGET = 4
CHARS_PER_TOKEN = 3  # fewer than English's ~4: the bound overestimates, never under
MESSAGE_OVERHEAD = 8  # tokens of a chat template around each message


class BudgetReached(RuntimeError):
    """No new request starts: it could pass llm.budget. Not an LLMError (never a failed window of
    an otherwise finished video) and not a failure: the job ends with BUDGET_MARK in its log, its
    video's outcome is `budget:<stage>`, and a rerun with a raised budget does it."""

    log_mark = BUDGET_MARK
    first = False  # this request's refusal stopped the batch's asking (the alert is sent once)


@dataclass(frozen=True)
class Cost:
    tokens: int
    usd: float | None  # None: a model without a price

    @classmethod
    def of(cls, prompt: int, completion: int, price: dict[str, float] | None) -> Cost:
        if price is None:
            return cls(prompt + completion, None)
        return cls(prompt + completion, (prompt * price.get("prompt", 0.0) + completion * price.get("completion", 0.0))
                   / 1e6)  # fmt: skip


def bound_of(messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int,
             price: dict[str, float] | None) -> Cost:  # fmt: skip
    """The most one request may cost: its prompt (overestimated) and the longest answer."""
    chars = sum(len(m.get("content") or "") for m in messages) + len(json.dumps(schema))
    prompt = math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages)
    if price is None:
        return Cost(prompt + max_tokens, None)
    return Cost(prompt + max_tokens, (prompt * price.get("prompt", 0.0) + max_tokens * price.get("completion", 0.0))
                / 1e6)  # fmt: skip


class Ledger:
    """The batch's spend, shared: `reserve` before a request, `settle` after it."""

    def __init__(self, path: str | Path, budget: LLMBudget, hold_seconds: float, seed: str | Path | None = None):
        self.path = Path(path)
        self.budget = budget
        self.hold_seconds = hold_seconds
        self.seed = Path(seed) if seed else None
        self._lock = FileLock(str(self.path) + ".lock")

    @classmethod
    def of_results(cls, results: str | Path, budget: LLMBudget, timeout: float, max_retries: int) -> Ledger:
        paths = layout.Results.of(str(results))
        return cls(paths.llm_spend, budget, timeout * (max_retries + 1) + 60.0, paths.usage)

    def reserve(self, bound: Cost, model: str) -> str:
        """Hold `bound` for one request, or raise BudgetReached when it could pass the budget."""
        with self._lock:
            doc = self._read()
            now = time.time()
            held = {k: r for k, r in doc["reserved"].items() if r["until"] > now}
            tokens = doc["tokens"] + sum(r["tokens"] for r in held.values()) + bound.tokens
            usd = doc["usd"] + sum(r["usd"] or 0.0 for r in held.values()) + (bound.usd or 0.0)
            # Once refused, no request starts (not even one small enough to fit) until the cap is raised.
            over = (doc.get("reached") or {}).get("by") or self._over(tokens, usd)
            if over:
                first = not doc.get("reached")
                cap = self.budget.tokens if over == "tokens" else self.budget.usd
                doc["reserved"] = held
                doc["reached"] = (doc.get("reached") or {"at": round(now, 3)}) | {"by": over, "cap": cap}
                self._write(doc)
                error = BudgetReached(reached_message(doc, self.budget))
                error.first = first  # the job that stopped the asking says so once (an alert)
                raise error
            key = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
            held[key] = {"tokens": bound.tokens, "usd": bound.usd, "until": round(now + self.hold_seconds, 3),
                         "model": model}  # fmt: skip
            doc["reserved"] = held
            self._write(doc)
        return key

    def settle(self, key: str, spent: Cost, model: str) -> None:
        """The request's real cost in place of its reservation (nothing, for one that failed)."""
        with self._lock:
            doc = self._read()
            doc["reserved"].pop(key, None)
            doc["tokens"] += spent.tokens
            doc["requests"] += 1 if spent.tokens else 0
            if spent.usd is None and spent.tokens:
                doc["priced"] = False
            doc["usd"] = round(doc["usd"] + (spent.usd or 0.0), 8)
            by_model = doc["by_model"].setdefault(model, {"requests": 0, "tokens": 0, "usd": 0.0})
            by_model["requests"] += 1 if spent.tokens else 0
            by_model["tokens"] += spent.tokens
            by_model["usd"] = round(by_model["usd"] + (spent.usd or 0.0), 8)
            self._write(doc)

    def _over(self, tokens: int, usd: float) -> str | None:
        if self.budget.tokens is not None and tokens > self.budget.tokens:
            return "tokens"
        if self.budget.usd is not None and usd > self.budget.usd + 1e-12:
            return "usd"
        return None

    def _read(self) -> dict[str, Any]:
        doc = atomic.read_json_or_empty(self.path)
        if not doc:
            doc = fresh(self.seed)
        if doc.get("reached") and not still_reached(doc["reached"], self.budget):
            doc["reached"] = None  # the cap raised since: asking goes on
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        atomic.write_json(self.path, doc)


def fresh(seed: Path | None) -> dict[str, Any]:
    """A new ledger: from the batch's usage.json when it has one (a batch begun before ledgers)."""
    usage = atomic.read_json_or_empty(seed) if seed else {}
    parts = [usage, usage.get("judge") or {}, usage.get("summarize") or {}] if usage else []
    tokens = sum(int(p.get("prompt_tokens") or 0) + int(p.get("completion_tokens") or 0) for p in parts)
    usd = sum(float(p.get("cost_usd") or 0.0) for p in parts)
    return {"tokens": tokens, "usd": round(usd, 8), "requests": 0, "priced": all(p.get("cost_usd") is not None
            for p in parts if p.get("prompt_tokens")), "by_model": {}, "reserved": {}, "reached": None,
            "since": "usage.json" if usage else "start"}  # fmt: skip


def read(results: str | Path) -> dict[str, Any]:
    """The ledger as it stands (empty when no request was ever counted), read-only."""
    return atomic.read_json_or_empty(layout.Results.of(str(results)).llm_spend)


def spent_text(doc: dict[str, Any], budget: LLMBudget) -> str:
    """'$0.0123 of $0.0100 (llm.budget.usd), 41,200 tokens': the spend against what caps it."""
    usd = f"${doc.get('usd', 0.0):.4f}" if doc.get("priced", True) else "an unknown sum (a model without a price)"
    parts = []
    if budget.usd is not None:
        parts.append(f"{usd} of ${budget.usd:g} (llm.budget.usd)")
    elif doc.get("priced", True):  # (no price and no cap in money: the tokens say it all)
        parts.append(usd)
    if budget.tokens is not None:
        parts.append(f"{doc.get('tokens', 0):,} of {budget.tokens:,} tokens (llm.budget.tokens)")
    else:
        parts.append(f"{doc.get('tokens', 0):,} tokens")
    return ", ".join(parts)


def reached_message(doc: dict[str, Any], budget: LLMBudget) -> str:
    key = "llm.budget.tokens" if (doc.get("reached") or {}).get("by") == "tokens" else "llm.budget.usd"
    held = list((doc.get("reserved") or {}).values())
    # Requests in flight hold their bounds: said, or a stop at "$0.0000 spent" reads as a fault.
    holding = (f" with {len(held)} request{'s' * (len(held) > 1)} in flight holding up to "
               + (f"${sum(r.get('usd') or 0.0 for r in held):.4f}" if budget.usd is not None and key.endswith("usd")
                  else f"{sum(r.get('tokens', 0) for r in held):,} tokens")) if held else ""  # fmt: skip
    return (f"LLM budget reached: spent {spent_text(doc, budget)}{holding}, and the next request could pass it, "
            "so no new "
            f"LLM request starts. Fix: raise {key}, then run the same command again; it continues where this "
            "stopped (answers already given are cached and cost nothing)")  # fmt: skip


def reached(results: str | Path, budget: LLMBudget) -> str | None:
    """The budget's message when this batch's asking stopped at it and the cap is as it was
    (not raised since), else None."""
    doc = read(results)
    return reached_message(doc, budget) if still_reached(doc.get("reached"), budget) else None


def still_reached(reached: dict[str, Any] | None, budget: LLMBudget) -> bool:
    """A stop at the budget holds until the cap that stopped it is raised (or removed)."""
    if not reached:
        return False
    cap = budget.tokens if reached.get("by") == "tokens" else budget.usd
    return cap is not None and cap <= reached.get("cap", cap)


@dataclass(frozen=True)
class Projection:
    """The whole batch's spend, from what its mined audio cost so far (tokens per audio hour)."""

    tokens_per_audio_hour: float
    usd_per_audio_hour: float | None  # None: a model without a price
    batch_hours: float  # the batch's videos at the mean length of those transcribed so far
    tokens: int
    usd: float | None

    @classmethod
    def of(cls, tokens: int, usd: float | None, measured_hours: float, batch_hours: float) -> Projection | None:
        """None until some audio was mined (no figure to multiply yet)."""
        if measured_hours <= 0 or tokens <= 0:
            return None
        per_hour = tokens / measured_hours
        usd_per_hour = usd / measured_hours if usd is not None else None
        return cls(round(per_hour), usd_per_hour, round(batch_hours, 2), round(per_hour * batch_hours),
                   round(usd_per_hour * batch_hours, 4) if usd_per_hour is not None else None)  # fmt: skip

    def line(self, budget: LLMBudget) -> str:
        """'the whole batch: ~$1.23 and 2,100,000 tokens (51,000 tokens per audio hour, 41.2 h);
        over llm.budget.usd ($0.50) by 2.5x'."""
        usd = f"~${self.usd:.2f} and " if self.usd is not None else ""
        text = (f"the whole batch: {usd}{self.tokens:,} tokens ({self.tokens_per_audio_hour:,.0f} tokens per audio "
                f"hour, {self.batch_hours:g} h of audio)")  # fmt: skip
        verdicts = []
        if budget.usd is not None and self.usd is not None:
            verdicts.append(_against(self.usd, budget.usd, "llm.budget.usd", f"${budget.usd:g}"))
        if budget.tokens is not None:
            verdicts.append(_against(self.tokens, budget.tokens, "llm.budget.tokens", f"{budget.tokens:,}"))
        return text + "".join(f"; {v}" for v in verdicts)


def _against(projected: float, cap: float, key: str, shown: str) -> str:
    if cap <= 0:
        return f"over {key} ({shown})"
    if projected <= cap:
        return f"within {key} ({shown}, {projected / cap:.0%} of it)"
    return f"over {key} ({shown}) by {projected / cap:.1f}x: it covers about {cap / projected:.0%} of the batch"

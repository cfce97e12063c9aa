"""What LLM work cost: a client's running count (`Usage`, priced by the model's price) and the
sum of what stages and videos recorded (`UsageTotal`, for status and summaries). Light on
purpose: `claimflow status` reads it without loading a provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Counts:
    """Requests (cache hits among them) and tokens: what every usage record holds."""

    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Usage(Counts):
    """Requests and tokens spent by one client (cache hits cost nothing), and their estimated price."""

    price: dict[str, float] | None = None  # USD per million prompt / completion tokens

    def add(self, prompt: int, completion: int) -> None:
        self.requests += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion

    @property
    def cost_usd(self) -> float | None:
        if self.price is None:
            return None
        return round((self.prompt_tokens * self.price.get("prompt", 0.0)
                      + self.completion_tokens * self.price.get("completion", 0.0)) / 1e6, 6)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached": self.cached, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd}  # fmt: skip


@dataclass
class UsageTotal(Counts):
    """Usage records summed (`usage` as claims.json and evaluation.json write it, or a video's row):
    the cost is the sum of theirs, and unknown, not zero, once a record that spent tokens has none
    (a provider without a price)."""

    cost_usd: float | None = 0.0

    def add_record(self, record: dict[str, Any]) -> None:
        self.prompt_tokens += int(record.get("prompt_tokens") or 0)
        self.completion_tokens += int(record.get("completion_tokens") or 0)
        self.requests += int(record.get("requests") or 0)
        self.cached += int(record.get("cached") or 0)
        cost = record.get("cost_usd")
        if cost is None and (record.get("requests") or record.get("prompt_tokens")):
            self.cost_usd = None
        elif self.cost_usd is not None and cost is not None:
            self.cost_usd = round(self.cost_usd + float(cost), 6)

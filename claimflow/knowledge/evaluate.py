"""The evaluate stage: score, deduplicate, tier and rank one video's claims.

Near-duplicates (claims restating each other) are merged in code before the LLM sees
them, so no tokens are spent rating the same claim twice. The rest go to the LLM in
batches; each claim gets a decision, importance, novelty, confidence and seven dimensions
(0-10). The score and the tier are computed here from configurable weights and thresholds,
never taken from the model, so changing a threshold needs no new tokens.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rapidfuzz import fuzz

from claimflow.core import prompts
from claimflow.core.settings import EvaluateResult
from claimflow.llm.client import Client, LLMError

log = logging.getLogger(__name__)

DIMENSIONS = [
    "epistemic_value", "actionability", "novelty", "verifiability",
    "understandability", "temporal_stability", "scope",
]  # fmt: skip


def response_schema(claim_ids: list[str]) -> dict[str, Any]:
    score = {"type": "integer", "enum": list(range(11))}
    item = {
        "type": "object",
        "properties": {
            "claim_id": {"type": "string", "enum": claim_ids},
            "decision": {"type": "string", "enum": ["accept", "reject"]},
            "importance": score,
            "novelty": score,
            "confidence": score,
            "dimensions": {
                "type": "object",
                "properties": {d: score for d in DIMENSIONS},
                "required": DIMENSIONS,
            },
        },
        "required": ["claim_id", "decision", "importance", "novelty", "confidence", "dimensions"],
    }
    n = len(claim_ids)
    return {
        "type": "object",
        "properties": {"evaluations": {"type": "array", "minItems": n, "maxItems": n, "items": item}},
        "required": ["evaluations"],
    }


def tier_for(score: float, tiers: dict[str, float]) -> str:
    for name, floor in sorted(tiers.items(), key=lambda kv: -kv[1]):
        if score >= floor:
            return name
    return "D"


def find_duplicates(claims: list[dict[str, Any]], threshold: float) -> dict[str, str]:
    """Map each near-duplicate claim id to the earlier claim it restates."""
    merged: dict[str, str] = {}
    for i, claim in enumerate(claims):
        for earlier in claims[:i]:
            if earlier["claim_id"] in merged:
                continue
            if fuzz.token_set_ratio(claim["claim_text"].lower(), earlier["claim_text"].lower()) >= threshold:
                merged[claim["claim_id"]] = earlier["claim_id"]
                break
    return merged


def _messages(batch: list[dict[str, Any]], prompt_name: str) -> list[dict[str, str]]:
    listed = [{"claim_id": c["claim_id"], "claim": c["claim_text"], "type": c["claim_type"]} for c in batch]
    return [
        {"role": "system", "content": prompts.load(prompt_name)},
        {"role": "user", "content": "Claims:\n" + json.dumps(listed, ensure_ascii=False, indent=1)},
    ]


def run(claims_doc: dict[str, Any], client: Client, cfg: EvaluateResult) -> dict[str, Any]:
    tiers, weights, prompt_name, batch_size = dict(cfg.tiers), dict(cfg.weights), cfg.prompt, cfg.batch_size
    claims = [c for c in claims_doc.get("claims", []) if c.get("supported", True)]
    merged = find_duplicates(claims, cfg.merge_threshold)
    to_rate = [c for c in claims if c["claim_id"] not in merged]

    rated: dict[str, dict[str, Any]] = {}
    failed: list[dict[str, Any]] = []
    for start in range(0, len(to_rate), batch_size):
        batch = to_rate[start : start + batch_size]
        ids = [c["claim_id"] for c in batch]
        try:
            answer = client.complete_json(_messages(batch, prompt_name), response_schema(ids), name="evaluation")
        except LLMError as exc:
            log.warning("evaluation batch %s failed: %s", ids, exc)
            failed.append({"claim_ids": ids, "reason": str(exc)[:300]})
            continue
        for item in answer["evaluations"]:
            rated.setdefault(item["claim_id"], item)  # a repeated id keeps its first rating

    evaluations = []
    for claim in claims:
        cid = claim["claim_id"]
        if cid in merged:
            evaluations.append(
                {
                    "claim_id": cid,
                    "decision": "merge",
                    "merge_with": [merged[cid]],
                    "tier": None,
                    "score": None,
                    "rank": None,
                }
            )
            continue
        item = rated.get(cid)
        if item is None:
            evaluations.append(
                {"claim_id": cid, "decision": "unrated", "merge_with": [], "tier": None, "score": None, "rank": None}
            )
            continue
        score = sum(float(item[k]) * float(w) for k, w in weights.items()) / sum(float(w) for w in weights.values())
        evaluations.append(
            {
                "claim_id": cid,
                "decision": item["decision"],
                "merge_with": [m for m, target in merged.items() if target == cid],
                "importance": item["importance"],
                "novelty": item["novelty"],
                "confidence": item["confidence"],
                "dimensions": item["dimensions"],
                "score": round(score, 2),
                "tier": tier_for(score, tiers),
                "rank": None,
            }
        )
    accepted = sorted((e for e in evaluations if e["decision"] == "accept"), key=lambda e: -e["score"])
    for rank, entry in enumerate(accepted, start=1):
        entry["rank"] = rank
    summary = {
        "decisions": {
            d: sum(e["decision"] == d for e in evaluations) for d in ("accept", "reject", "merge", "unrated")
        },
        "tiers": {t: sum(e["tier"] == t for e in accepted) for t in [*sorted(tiers), "D"]},
        "failed_batches": len(failed),
    }
    log.info("%s: %s", claims_doc.get("vid"), summary)
    status, reason = claims_doc.get("status", "ok"), claims_doc.get("reason")
    if failed and status == "ok":
        status, reason = "partial", f"{len(failed)} evaluation batch(es) failed: {failed[0]['reason'][:120]}"
    return {
        "vid": claims_doc.get("vid"),
        "status": status,
        "reason": reason,
        "prompt": prompts.fingerprint(prompt_name),
        "provider": client.provider,
        "model": client.model.rsplit("/", 1)[-1],
        "provenance": client.provenance() | {"prompt": prompts.fingerprint(prompt_name)},
        "tiers": tiers,
        "weights": weights,
        "evaluations": evaluations,
        "failed_batches": failed,
        "summary": summary,
        "usage": client.usage.as_dict(),
    }

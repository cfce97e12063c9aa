"""The mine stage: claims, jargon, people and mental models from a transcript, grounded.

The transcript is cut into token windows; each window goes to the LLM with a bounded JSON
schema. Everything the model returns must be found in the transcript: claims and mental
models by their quotes (or, failing that, by the statement itself), jargon terms and
names by their literal occurrence. What cannot be grounded is dropped or flagged, and
counted. A window whose answer stays invalid is recorded as failed; the video completes.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from claimflow.batch.vocabulary import miner_note
from claimflow.core import prompts
from claimflow.core.settings import MineLimits, MineResult
from claimflow.knowledge import chunk, grounding
from claimflow.llm.client import Client, LLMError

log = logging.getLogger(__name__)

CLAIM_TYPES = ["factual", "causal", "normative", "forecast", "definition"]
STANCES = ["asserts", "questions", "opposes", "neutral"]


def response_schema(limits: MineLimits) -> dict[str, Any]:
    """What the model must answer; arrays and strings are bounded so small models stop."""

    def text(n: int) -> dict[str, Any]:
        return {"type": "string", "maxLength": n}

    span = {
        "type": "object",
        "properties": {"segment_id": {"type": "integer"}, "quote": text(200)},
        "required": ["segment_id", "quote"],
    }

    def items(props: dict[str, Any], n: int) -> dict[str, Any]:
        props = {**props, "evidence": span}
        return {
            "type": "array",
            "maxItems": n,
            "items": {"type": "object", "properties": props, "required": list(props)},
        }

    return {
        "type": "object",
        "properties": {
            "claims": items(
                {
                    "claim_text": text(200),
                    "claim_type": {"type": "string", "enum": CLAIM_TYPES},
                    "domain": text(30),
                    "stance": {"type": "string", "enum": STANCES},
                },
                limits.claims,
            ),
            "jargon": items({"term": text(50), "definition": text(150)}, limits.jargon),
            "people": items(
                {
                    "name": text(60),
                    "entity_type": {"type": "string", "enum": ["person", "organization"]},
                    "role": text(60),
                },
                limits.people,
            ),
            "mental_models": items({"name": text(60), "definition": text(150)}, limits.mental_models),
        },
        "required": ["claims", "jargon", "people", "mental_models"],
    }


def messages_for(window: chunk.Window, prompt_name: str, known_terms: list[str] | None = None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": prompts.load(prompt_name)}]
    shot = prompts.example(prompt_name)
    if shot:
        messages += [
            {"role": "user", "content": "Transcript:\n" + shot["transcript"]},
            {"role": "assistant", "content": json.dumps(shot["answer"])},
        ]
    note = miner_note(known_terms or [])
    lead = f"{note}\n\n" if note else ""
    messages.append({"role": "user", "content": lead + "Transcript:\n" + window.numbered_text()})
    return messages


def _locate_literal(term: str, text: grounding.Text) -> grounding.Span | None:
    """A term or name counts only where it literally occurs (case-insensitive, whole words)."""
    needle = " ".join(term.split()).lower()
    if len(needle) < 2:
        return None
    found = re.search(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])", text.lower)
    if not found:
        return None
    index = text.owners[found.start()]
    start = text.starts[index]
    return text.span(start, start + len(text.segments[index]["text"].strip()), "literal", 100.0)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def mine_windows(transcript: dict[str, Any], client: Client, cfg: MineResult) -> dict[str, Any]:
    segments = [s for s in transcript.get("segments", []) if s.get("text", "").strip()]
    wins = chunk.windows(segments, cfg.chunk_tokens, cfg.min_tokens, cfg.max_tokens, cfg.overlap_tokens)
    schema = response_schema(cfg.limits)
    prompt_name = cfg.prompt
    keep_unsupported = cfg.unsupported == "flag"
    known = transcript.get("vocabulary") or []  # the terms Whisper was told (claimflow/batch/vocabulary.py)
    q_threshold, s_threshold = cfg.quote_threshold, cfg.statement_threshold

    found: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in ("claims", "jargon", "people", "mental_models")}
    failed: list[dict[str, Any]] = []
    unsupported = {k: 0 for k in found}

    def keep(kind: str, key: str, item: dict[str, Any], spans: list[grounding.Span], window: int) -> None:
        if not spans:
            unsupported[kind] += 1
            if not keep_unsupported:
                return
        item = {**item, "window": window, "supported": bool(spans), "evidence_spans": [s.as_dict() for s in spans]}
        previous = found[kind].get(key)
        if previous is None:
            found[kind][key] = item
            return
        # Seen in an overlapping window already: keep one item with the union of its evidence.
        quotes = {e["quote"] for e in previous["evidence_spans"]}
        previous["evidence_spans"] += [e for e in item["evidence_spans"] if e["quote"] not in quotes]
        previous["supported"] = previous["supported"] or item["supported"]

    for win in wins:
        try:
            answer = client.complete_json(messages_for(win, prompt_name, known), schema, name="claims")
        except LLMError as exc:
            log.warning("window %d failed: %s", win.index, exc)
            failed.append({"window": win.index, "segment_ids": win.segment_ids, "reason": str(exc)[:300]})
            continue
        text = grounding.Text(win.segments)
        for claim in answer["claims"]:
            spans = grounding.ground([claim["evidence"]["quote"]], claim["claim_text"], text, q_threshold, s_threshold)
            fields = {
                k: claim[k].strip() if isinstance(claim[k], str) else claim[k]
                for k in ("claim_text", "claim_type", "domain", "stance")
            }
            if _norm(fields["claim_text"]):
                keep("claims", _norm(fields["claim_text"]), fields, spans, win.index)
        for term in answer["jargon"]:
            span = _locate_literal(term["term"], text)
            keep(
                "jargon",
                _norm(term["term"]),
                {"term": term["term"].strip(), "definition": term["definition"].strip()},
                [span] if span else [],
                win.index,
            )
        for person in answer["people"]:
            span = _locate_literal(person["name"], text)
            entry = {k: person[k].strip() for k in ("name", "entity_type", "role")}
            keep("people", _norm(person["name"]), entry, [span] if span else [], win.index)
        for model in answer["mental_models"]:
            spans = grounding.ground([model["evidence"]["quote"]], None, text, q_threshold, s_threshold)
            keep(
                "mental_models",
                _norm(model["name"]),
                {"name": model["name"].strip(), "definition": model["definition"].strip()},
                spans,
                win.index,
            )

    claims = list(found["claims"].values())
    for number, claim in enumerate(claims, start=1):
        claim["claim_id"] = f"c{number:03d}"
    people = list(found["people"].values())
    for person in people:
        person["mentions"] = person.pop("evidence_spans")
    return {
        "windows": len(wins),
        "failed_windows": failed,
        "claims": [{"claim_id": c.pop("claim_id"), **c} for c in claims],
        "jargon": list(found["jargon"].values()),
        "people": people,
        "mental_models": list(found["mental_models"].values()),
        "unsupported": unsupported,
    }


def run(transcript: dict[str, Any], client: Client, cfg: MineResult) -> dict[str, Any]:
    """Mine one video's transcript; a video without speech or audio passes its status on."""
    result: dict[str, Any] = {
        "vid": transcript.get("vid"),
        "status": transcript.get("status", "ok"),
        "reason": transcript.get("reason"),
        "prompt": prompts.fingerprint(cfg.prompt),
        "provider": client.provider,
        "model": client.model.rsplit("/", 1)[-1],
        "provenance": client.provenance() | {"prompt": prompts.fingerprint(cfg.prompt)},
    }
    if result["status"] != "ok":
        empty = {"windows": 0, "failed_windows": [], "claims": [], "jargon": [], "people": [], "mental_models": []}
        result.update(empty, unsupported={})
    else:
        result.update(mine_windows(transcript, client, cfg))
        if result["failed_windows"]:
            # Done means done: what it found is kept and goes on, but the video is not `ok`.
            failed = result["failed_windows"]
            result.update(status="partial", reason=f"{len(failed)} of {result['windows']} windows failed: "
                                                   f"{failed[0]['reason'][:120]}")  # fmt: skip
    result["usage"] = client.usage.as_dict()
    log.info(
        "%s: %d claims, %d jargon, %d people, %d mental models; unsupported dropped/flagged: %s; failed windows: %d",
        result["vid"], len(result["claims"]), len(result["jargon"]), len(result["people"]),
        len(result["mental_models"]), result["unsupported"], len(result["failed_windows"]),
    )  # fmt: skip
    return result

"""A summary per video: a few sentences and the key points, from the LLM, in one request.

The request carries the transcript's words (no timestamps: a small model copies them into its
summary) up to `transcript_chars`. A longer transcript is sampled in whole segments taken
evenly from its start to its end, so the summary reads the whole video rather than its first
minutes; the passages are joined by "...", which the prompt explains. One request per video,
answered from the LLM cache on every rerun, counted in tokens and cost like every request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from claimflow.core import prompts
from claimflow.llm.client import Client, LLMError

log = logging.getLogger(__name__)

PROMPT = "summarize.v1"
# What is kept of an answer. Not in the response schema: llama.cpp's JSON grammar makes one
# optional rule per character of a maxLength, and at 1,200 the grammar crashed the process.
SUMMARY_CHARS = 1200
POINT_CHARS = 300


class NotSummarized(RuntimeError):
    """The summarize job's failure (an exception, not SystemExit: the job's log marks it failed,
    and the run's last line counts the video)."""


@dataclass(frozen=True)
class Passage:
    """The words of the transcript the request carried, and how much of the whole they are."""

    text: str
    segments_sent: int
    segments: int


@dataclass(frozen=True)
class Summary:
    vid: str
    status: str  # ok | skipped (no speech, or no transcript) | failed
    summary: str = ""
    key_points: tuple[str, ...] = ()
    reason: str | None = None  # why failed, or why nothing was asked
    segments_sent: int = 0
    segments: int = 0
    usage: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"vid": self.vid, "status": self.status, "summary": self.summary, "key_points": list(self.key_points),
                "reason": self.reason, "segments_sent": self.segments_sent, "segments": self.segments,
                "usage": self.usage}  # fmt: skip


def excerpt(segments: Sequence[dict[str, Any]], limit: int) -> Passage:
    """The segments' words up to `limit` characters: all of them when they fit, else whole
    segments picked at even steps from the first to the last (never one cut in the middle)."""
    texts = [" ".join(str(s.get("text") or "").split()) for s in segments]
    texts = [t for t in texts if t]
    whole = " ".join(texts)
    if len(whole) <= limit:
        return Passage(whole, len(texts), len(texts))
    average = max(1.0, len(whole) / len(texts))
    wanted = max(1, int(limit / (average + 5)))
    while wanted >= 1:
        step = len(texts) / wanted
        picked = sorted({min(len(texts) - 1, int(i * step)) for i in range(wanted)})
        parts, previous = [], None
        for index in picked:
            if previous is not None and index != previous + 1:
                parts.append("...")
            parts.append(texts[index])
            previous = index
        text = " ".join(parts)
        if len(text) <= limit:
            return Passage(text, len(picked), len(texts))
        wanted -= max(1, wanted // 10)
    return Passage(texts[0][:limit], 1, len(texts))


def response_schema(key_points: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "key_points": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": key_points},
        },
        "required": ["summary", "key_points"],
    }


def messages(passage: Passage, title: str | None, prompt_name: str) -> list[dict[str, str]]:
    video = {"title": title or "", "transcript": passage.text}
    if passage.segments_sent < passage.segments:
        video["excerpt"] = f"{passage.segments_sent} of the transcript's {passage.segments} segments"
    return [
        {"role": "system", "content": prompts.load(prompt_name)},
        {"role": "user", "content": json.dumps(video, ensure_ascii=False, indent=1)},
    ]


def summarize(vid: str, transcript: dict[str, Any], title: str | None, client: Client | None, *, prompt: str = PROMPT,
              transcript_chars: int = 6000, key_points: int = 5) -> Summary:  # fmt: skip
    """The video's summary. A transcript without speech asks nothing; an answer the LLM could
    not give (or gave outside the schema, after the client's one repair) is `failed`, for a
    plain rerun to ask again. Endpoint faults (claimflow/llm/client.py EndpointError) propagate."""
    segments = transcript.get("segments") or []
    passage = excerpt(segments, transcript_chars)
    if transcript.get("status") not in (None, "ok") or not passage.text or client is None:
        reason = transcript.get("reason") or "the transcript has no speech"
        return Summary(vid, "skipped", reason=reason, segments=passage.segments)
    try:
        answer = client.complete_json(messages(passage, title, prompt), response_schema(key_points), name="summary")
    except LLMError as exc:
        log.warning("%s: not summarized: %s", vid, exc)
        return Summary(vid, "failed", reason=str(exc)[:300], segments_sent=passage.segments_sent,
                       segments=passage.segments)  # fmt: skip
    text = " ".join(str(answer.get("summary") or "").split())[:SUMMARY_CHARS]
    points = tuple(p for p in (" ".join(str(p).split())[:POINT_CHARS] for p in answer.get("key_points") or []) if p)
    if not text:
        return Summary(vid, "failed", reason="the LLM answered an empty summary", segments_sent=passage.segments_sent,
                       segments=passage.segments)  # fmt: skip
    return Summary(vid, "ok", text, points[:key_points], None, passage.segments_sent, passage.segments)

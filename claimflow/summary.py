"""The batch summary: one TSV row per video of this batch, read back from the database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from claimflow import atomic, store

COLUMNS = ["vid", "status", "reason", "title", "duration", "segments", "claims", "accepted",
           "tier_A", "tier_B", "tier_C", "tier_D", "prompt_tokens", "completion_tokens", "llm_requests",
           "llm_cached", "cost_usd"]  # fmt: skip

QUERY = """
SELECT v.vid, v.status, v.reason, v.title, v.duration,
       (SELECT COUNT(*) FROM segments s WHERE s.vid = v.vid),
       (SELECT COUNT(*) FROM claims c WHERE c.vid = v.vid),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'A'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'B'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'C'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'D'),
       v.prompt_tokens, v.completion_tokens, v.llm_requests, v.llm_cached, v.cost_usd
FROM videos v WHERE v.vid = ?
"""


def totals(rows: list[dict[str, object]]) -> dict[str, object]:
    """The batch's LLM spend: tokens, requests, cache hits and estimated cost, and tokens per
    hour of audio (the figure to multiply by a batch's hours for a budget)."""

    def total(key: str) -> float:
        return sum(float(r.get(key) or 0) for r in rows)

    hours = total("duration") / 3600
    tokens = total("prompt_tokens") + total("completion_tokens")
    costs = [r.get("cost_usd") for r in rows if r.get("status") == "ok"]
    return {
        "videos": len(rows),
        "by_status": {s: sum(r.get("status") == s for r in rows) for s in sorted({str(r.get("status")) for r in rows})},
        "audio_hours": round(hours, 4),
        "prompt_tokens": int(total("prompt_tokens")),
        "completion_tokens": int(total("completion_tokens")),
        "llm_requests": int(total("llm_requests")),
        "llm_cached": int(total("llm_cached")),
        "cost_usd": None if any(c is None for c in costs) else round(total("cost_usd"), 6),
        "tokens_per_audio_hour": round(tokens / hours) if hours else None,
    }


def write(
    database: str | Path, vids: list[str], out: str | Path, usage_out: str | Path | None = None
) -> list[dict[str, object]]:
    conn = store.connect(database)
    try:
        rows = []
        for vid in vids:
            found = conn.execute(QUERY, (vid,)).fetchone()
            rows.append(dict(zip(COLUMNS, found, strict=True)) if found else {"vid": vid, "status": "missing"})
    finally:
        conn.close()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, delimiter="\t", lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(out, buffer.getvalue())
    if usage_out:
        atomic.write_json(usage_out, totals(rows))
    return rows

"""The batch summary: one TSV row per video of this batch, read back from the database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from claimflow import atomic, store

COLUMNS = ["vid", "status", "reason", "title", "duration", "segments", "claims", "accepted",
           "tier_A", "tier_B", "tier_C", "tier_D", "prompt_tokens", "completion_tokens"]  # fmt: skip

QUERY = """
SELECT v.vid, v.status, v.reason, v.title, v.duration,
       (SELECT COUNT(*) FROM segments s WHERE s.vid = v.vid),
       (SELECT COUNT(*) FROM claims c WHERE c.vid = v.vid),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'A'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'B'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'C'),
       (SELECT COUNT(*) FROM evaluations e WHERE e.vid = v.vid AND e.decision = 'accept' AND e.tier = 'D'),
       v.prompt_tokens, v.completion_tokens
FROM videos v WHERE v.vid = ?
"""


def write(database: str | Path, vids: list[str], out: str | Path) -> list[dict[str, object]]:
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
    return rows

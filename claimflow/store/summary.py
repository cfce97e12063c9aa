"""The batch summary: one TSV row per video of this batch, and the run's last line.

Written at the end of every run, successful or not (the workflow's onsuccess and onerror),
so a batch with failed videos still gets its summary: that is where the user looks for them.
Stored videos are read back from the database (ok, partial, unavailable, no_speech,
not_english); a video not stored is `failed:<stage>`, `interrupted:<stage>`, `budget:<stage>`
(llm.budget reached before its LLM work was done) or `pending:<stage>` at the first stage whose
output it lacks, with the reason its log gives.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from pathlib import Path

from claimflow.core import atomic, layout
from claimflow.core.layout import BUDGET_MARK, FAILED_MARK, INTERRUPTED_MARK
from claimflow.core.logs import last_mark
from claimflow.download import roads
from claimflow.llm.budget import EXIT_BUDGET
from claimflow.store import database as store

# The exit status of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
OUTCOME_OF_MARK = {FAILED_MARK: "failed", INTERRUPTED_MARK: "interrupted", BUDGET_MARK: "budget"}

# How long writing the outcomes waits for the database's write lock: briefly, for the run's end
# never waits on another program's open transaction (summary.tsv is written first and says all).
OUTCOMES_WAIT = 5.0

COLUMNS = ["vid", "status", "reason", "reason_class", "title", "duration", "transcript", "segments", "claims",
           "accepted",
           "tier_A", "tier_B", "tier_C", "tier_D", "prompt_tokens", "completion_tokens", "llm_requests",
           "llm_cached", "cost_usd"]  # fmt: skip

QUERY = """
SELECT v.vid, v.status, v.reason, NULL, v.title, v.duration, v.transcript_source,
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
    costs = [r.get("cost_usd") for r in rows if r.get("status") in ("ok", "partial")]
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


def unstored(results: str | Path | layout.Results, vid: str) -> tuple[str, str | None]:
    """A video that is not in the database, and why: `failed:<stage>` when the job of the first
    stage whose output it lacks failed (its log says so last; the reason is the log's line),
    `interrupted:<stage>` when that job was stopped (Ctrl-C, SIGTERM), `budget:<stage>` when it
    stopped at llm.budget, else `pending:<stage>`
    (not reached yet, or outside this run's target, e.g. `snakemake downloads`)."""
    results = layout.Results.of(results)
    stage = next((stage for stage, name in layout.STAGE_FILE.items()
                  if not Path(results.video(vid, name)).exists()), "store")  # fmt: skip
    asked = Path(results.log("captions", vid)).exists()  # (a video the pass asks nothing of has no log)
    if stage == "download" and asked and not Path(results.video(vid, layout.FOUND)).exists():
        stage = "captions"  # its captions pass ran and did not finish
    log = Path(results.log(stage, vid))
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"pending:{stage}", None
    mark = last_mark(text)
    if mark is None:
        return f"pending:{stage}", None
    line = text[text.rfind(mark) :].splitlines()[0]
    reason = line.removeprefix(mark).strip()[:500] or None
    return f"{OUTCOME_OF_MARK[mark]}:{stage}", reason


def link_failures(results: str | Path | layout.Results, rows: list[dict[str, object]],
                  judged: bool = False, mark: str = FAILED_MARK) -> list[str]:  # fmt: skip
    """Stored videos whose claims are not linked because the embed, link or (with `judged`)
    judge job failed (its log says so last; `mark`: BUDGET_MARK for the judge stopped by the
    budget); a video whose linking has not run yet is not one. One or two stats per stored video."""
    results = layout.Results.of(results)
    last = layout.JUDGED if judged else layout.LINKED
    failed = []
    for row in rows:
        vid = str(row["vid"])
        if ":" in str(row.get("status")) or Path(results.video(vid, last)).exists():
            continue  # not stored (failed:<stage>, pending:...), or linked (and judged)
        for stage in ("embed", "link", "judge") if judged else ("embed", "link"):
            try:
                text = Path(results.log(stage, vid)).read_text(errors="replace")
            except OSError:
                continue
            if last_mark(text) == mark:
                failed.append(vid)
                break
    return failed


def summary_failures(results: str | Path | layout.Results, rows: list[dict[str, object]],
                     mark: str = FAILED_MARK) -> list[str]:  # fmt: skip
    """Videos with a transcript whose summarize job failed (its log says so last, and it wrote
    no summarized.json; `mark`: BUDGET_MARK for one stopped by the budget); one whose summary
    has not run yet is not one."""
    results = layout.Results.of(results)
    failed = []
    for row in rows:
        vid = str(row["vid"])
        if Path(results.video(vid, layout.SUMMARIZED)).exists():
            continue
        try:
            text = Path(results.log("summarize", vid)).read_text(errors="replace")
        except OSError:
            continue
        if last_mark(text) == mark:
            failed.append(vid)
    return failed


def _reason_class(manifest: Path) -> str:
    """Why a video is unavailable, as a class (private, removed, geo_blocked, ...)."""
    return atomic.read_json_or_empty(manifest).get("reason_class") or "unknown"


def last_line(rows: list[dict[str, object]], unlinked: int = 0, unsummarized: int = 0,
              held: int = 0) -> tuple[str, int]:  # fmt: skip
    """The run's last line, counting videos by outcome, and the exit status it implies: 1 when
    any video failed (or, of the stored ones, `unlinked` failed to be linked across the batch,
    or `unsummarized` failed to be summarized), EXIT_INTERRUPTED when none failed but a job was
    stopped (Ctrl-C, SIGTERM), EXIT_BUDGET when none of those but LLM work stopped at llm.budget
    (videos `budget:<stage>`, or `held` stored ones whose judge or summary it stopped), 3 when
    none of those but some are partial, else 0."""
    statuses = Counter(str(r.get("status")) for r in rows)

    def by_stage(kind: str) -> tuple[str, int]:
        stages = {k.split(":", 1)[1]: n for k, n in statuses.items() if k.startswith(f"{kind}:")}
        text = f"{sum(stages.values())} {kind}"
        if stages:
            text += " (" + ", ".join(f"at {stage}: {n}" for stage, n in sorted(stages.items())) + ")"
        return text, sum(stages.values())

    failed_text, failed = by_stage("failed")
    interrupted_text, interrupted = by_stage("interrupted")
    pending_text, pending = by_stage("pending")
    budget_text, budget = by_stage("budget")
    parts = [f"{statuses['ok']} ok", f"{statuses['partial']} partial", failed_text,
             f"{statuses['unavailable']} unavailable", f"{statuses['no_speech']} no speech"]  # fmt: skip
    if statuses["not_english"]:  # only an English-only model says so (claimflow/transcribe/speechcheck.py)
        parts.append(f"{statuses['not_english']} not English")
    if interrupted:
        parts.append(interrupted_text)
    if budget:
        parts.append(budget_text.replace(" budget", " budget reached", 1))
    if pending:
        parts.append(pending_text)
    if held:  # stored, so counted above; the budget stopped their judge or summary
        parts.append(f"{held} not judged or summarized (budget reached)")
    if unlinked:  # stored, so counted above as what they are; their linking failed
        parts.append(f"{unlinked} not linked (embed, link or judge failed: results/logs/)")
    if unsummarized:
        parts.append(f"{unsummarized} not summarized (summarize failed: results/logs/summarize/)")
    code = (
        1
        if failed or unlinked or unsummarized
        else EXIT_INTERRUPTED
        if interrupted
        else EXIT_BUDGET
        if budget or held
        else 3
        if statuses["partial"]
        else 0
    )
    return f"claimflow: {len(rows)} videos: " + ", ".join(parts), code


def rows(database: str | Path, vids: list[str], results: str | Path | layout.Results) -> list[dict[str, object]]:
    """One row per video: stored ones from the database, the others by their first missing stage."""
    results = layout.Results.of(results)
    conn = store.connect(database)
    try:
        found_rows = []
        for vid in vids:
            found = conn.execute(QUERY, (vid,)).fetchone()
            if found:
                row = dict(zip(COLUMNS, found, strict=True))
                row["transcript"] = roads.source_of({"source": row["transcript"]}) if row["transcript"] else None
            else:
                status, reason = unstored(results, vid)
                row = {"vid": vid, "status": status, "reason": reason}
            if row["status"] == "unavailable":
                row["reason_class"] = _reason_class(Path(results.video(vid, layout.DOWNLOAD)))
            found_rows.append(row)
    finally:
        conn.close()
    return found_rows


def write(
    database: str | Path,
    vids: list[str],
    out: str | Path,
    usage_out: str | Path | None = None,
    results: str | Path | layout.Results | None = None,
) -> list[dict[str, object]]:
    found_rows = rows(database, vids, results if results else Path(out).parent)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, delimiter="\t", lineterminator="\n", restval="")
    writer.writeheader()
    for row in found_rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(out, buffer.getvalue())
    try:
        with store.store_job(database, OUTCOMES_WAIT) as conn:  # the database says what summary.tsv says
            store.store_outcomes(conn, found_rows)
    except store.DatabaseLocked as exc:
        print(f"claimflow: the database's outcomes table is left as it was (summary.tsv has them): {exc}",
              file=sys.stderr)  # fmt: skip
    if usage_out:
        folder = results if results else Path(out).parent
        atomic.write_json(usage_out, totals(found_rows) | {"judge": judge_usage(folder, vids)}
                          | {"summarize": summarize_usage(folder, vids)})  # fmt: skip
    return found_rows


def summarize_usage(results: str | Path | layout.Results, vids: list[str]) -> dict[str, object]:
    """What the summarize jobs asked of the LLM (summarized.json's `usage`), summed."""
    from claimflow.llm.usage import UsageTotal  # (light: no provider)

    results = layout.Results.of(results)
    total, videos = UsageTotal(), 0
    for vid in vids:
        record = atomic.read_json_or_empty(results.video(vid, layout.SUMMARIZED))
        videos += record.get("status") == "ok"
        total.add_record(record.get("usage") or {})
    return {"videos": videos, "requests": total.requests, "cached": total.cached, "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens, "cost_usd": total.cost_usd}  # fmt: skip


def judge_usage(results: str | Path | layout.Results, vids: list[str]) -> dict[str, object]:
    """What the judge jobs asked of the LLM (judged.json's `usage`), summed: the candidate pairs
    are the batch's, not a video's, so they stand beside the videos' own spend."""
    from claimflow.llm.usage import UsageTotal  # (light: no provider)

    results = layout.Results.of(results)
    total, pairs, negations = UsageTotal(), 0, 0
    for vid in vids:
        record = atomic.read_json_or_empty(results.video(vid, layout.JUDGED))
        pairs += int(record.get("pairs") or 0)
        negations += int(record.get("negations") or 0)  # judged by rule, no request
        total.add_record(record.get("usage") or {})
    return {"pairs": pairs, "negations": negations, "requests": total.requests, "cached": total.cached,
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens, "cost_usd": total.cost_usd}  # fmt: skip

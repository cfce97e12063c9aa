"""Where a batch stands, computed from its files alone: per-video outputs and stage logs,
`state/accounts/*.json`, the database (read-only, for what is already stored) and Snakemake's
own record of jobs in progress (`.snakemake/incomplete/`). No daemon and no writes, so it is
safe to run while the batch runs, and after it was killed.

A video's stage is done when its output file exists; the file's mtime is when it finished,
which gives the rates and the ETA. Only videos in flight (downloaded but not stored) have
their JSON read; stored ones come from one database query, so 7,000 folders cost one
directory listing each.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claimflow.batch import sources as cf_sources
from claimflow.batch.collections import count_lines, vids_on_disk
from claimflow.commands.runlock import live_runs
from claimflow.core import atomic, layout
from claimflow.core.layout import BUDGET_MARK, FAILED_MARK, INTERRUPTED_MARK
from claimflow.core.logs import last_mark
from claimflow.core.settings import Settings
from claimflow.download import accounts as cf_accounts
from claimflow.download import gate, health, roads
from claimflow.llm import budget as cf_budget
from claimflow.llm.budget import Projection
from claimflow.llm.usage import UsageTotal

STAGES = layout.STAGES
OUTPUTS = layout.STAGE_FILE
HOUR = 3600.0


@dataclass
class StageStatus:
    done: int = 0
    running: int = 0
    waiting: int = 0  # inputs ready, not started (for download: not downloaded yet)
    failed: int = 0  # its job failed (the stage log says so); a plain rerun retries it
    interrupted: int = 0  # Snakemake marked it in progress, but no Snakemake runs here any more
    budget: int = 0  # its job stopped at llm.budget (a rerun with a raised budget does it)
    unavailable: int = 0
    last_hour: int = 0
    per_hour: float | None = None  # overall, since the batch's first download
    per_hour_last_hour: float | None = None
    remaining: int = 0
    eta_seconds: float | None = None


@dataclass
class AccountStatus:
    name: str
    status: str  # active | paused | disabled
    reason: str | None
    paused_until: float | None
    last_start: float | None
    next_start: float | None  # the earliest the next download may start
    multiplier: float
    downloads: int
    failures: int


@dataclass
class BufferStatus:
    size: int  # audio downloaded, not yet transcribed
    min: int
    target: int
    max: int


@dataclass
class BudgetStatus:
    tokens: int  # spent so far, the batch's every stage and run (results/llm-spend.json)
    usd: float | None  # None: a model without a price
    cap_tokens: int | None  # llm.budget
    cap_usd: float | None
    spent: str  # the spend against the caps, as a line says it
    reached: str | None  # the budget's message once asking stopped at it (until the cap is raised)
    projection: Projection | None
    projected: str | None  # the projection against the caps, as a line says it


@dataclass
class Status:
    generated_at: float
    results: str
    videos: int
    snakemake_running: bool | None  # None: cannot tell on this system
    started_at: float | None  # the batch's first download
    elapsed_seconds: float | None  # since then; only while a run is alive
    last_run: RunTimes | None  # the latest Snakemake run here: when it started and ended
    stages: dict[str, StageStatus]
    accounts: list[AccountStatus]
    buffer: BufferStatus
    audio_hours: float
    audio_hours_per_hour: float | None
    audio_hours_last_hour: float
    llm: UsageTotal
    eta_seconds: float | None  # only while a run is alive
    bound_by: str | None  # the stage that sets the ETA
    # Stored videos by outcome (ok, partial, unavailable, no_speech), and those mined partial
    # but not stored yet: partial work a plain rerun asks again for.
    outcomes: dict[str, int] = field(default_factory=dict)
    failed_videos: list[dict[str, str]] = field(default_factory=list)
    # Per collection (channel, playlist, feed): listed, kept, removed by each filter.
    collections: list[str] = field(default_factory=list)
    # Per channel sampled by the automatic captions gate: its decision and figures.
    gates: list[str] = field(default_factory=list)
    # Downloaded videos (unavailable aside) by the road they took (captions | audio), and the
    # videos the captions pass has asked about (captions.json).
    roads: dict[str, int] = field(default_factory=dict)
    captions_asked: int = 0
    # Stored videos whose claims are linked across the batch (linked.json).
    linked: int = 0
    # Videos summarized by the LLM (summarized.json), of the batch's `videos`.
    summarized: int = 0
    # The LLM spend against llm.budget, and the whole batch's projected from it.
    budget: BudgetStatus | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- Snakemake's record of running jobs ---------------------------------------------------------
def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs of jobs Snakemake started and has not finished, as absolute paths:
    `.snakemake/incomplete/` holds one file per output, named by the path as the rule gives it
    (relative to the workdir, or absolute when `results:` is) in URL-safe base64 (long names
    split into directories whose names start with '@')."""
    root = workdir / ".snakemake" / "incomplete"
    found: set[str] = set()
    for dirpath, _dirs, files in os.walk(root):
        prefix = "".join(part[1:] for part in Path(dirpath).relative_to(root).parts if part.startswith("@"))
        for name in files:
            try:
                path = base64.urlsafe_b64decode(prefix + name).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            found.add(os.path.normpath(os.path.join(workdir.absolute(), path)))
    return found


@dataclass
class RunTimes:
    """The latest Snakemake run in the folder, from its log (`.snakemake/log/<start>.snakemake.log`,
    written until the run ends)."""

    started: float
    ended: float  # the log's last write: the run's end, or now while it runs

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended - self.started)


def runs(workdir: Path) -> list[RunTimes]:
    """Every Snakemake run in the folder that left its log, oldest first."""
    found = []
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log")):
        try:
            started = dt.datetime.fromisoformat(log.name.split(".snakemake.log")[0]).timestamp()
            found.append(RunTimes(started, log.stat().st_mtime))
        except (ValueError, OSError):
            continue
    return found


def last_run(workdir: Path) -> RunTimes | None:
    found = runs(workdir)
    return found[-1] if found else None


def snakemake_running(workdir: Path) -> bool | None:
    """Whether a Snakemake process runs in `workdir` on this host (from /proc; None elsewhere)."""
    if not Path("/proc").is_dir():
        return None
    return bool(live_runs(workdir))


# -- reading --------------------------------------------------------------------------------------
def _stored_rows(database: Path) -> dict[str, dict[str, Any]]:
    """Stored videos' status, duration and LLM usage, read-only (never creates or migrates)."""
    if not database.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(videos)")}
            road = "road" if "road" in columns else "NULL"  # schema 6: a database from before reads as audio
            rows = conn.execute("SELECT vid, status, reason, duration, prompt_tokens, completion_tokens, "
                                f"llm_requests, llm_cached, cost_usd, {road} FROM videos").fetchall()  # fmt: skip
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    keys = ("status", "reason", "duration", "prompt_tokens", "completion_tokens", "requests", "cached", "cost_usd",
            "road")  # fmt: skip
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def _log_mark(path: Path) -> str | None:
    """What the log's last attempt ended with: FAILED_MARK, INTERRUPTED_MARK or None (its tail
    only: the mark is the last thing a job writes)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            return last_mark(handle.read().decode(errors="replace"))
    except OSError:
        return None


_OUTPUT_NAMES = frozenset(OUTPUTS.values()) | {layout.FOUND, layout.LINKED, layout.SUMMARIZED}


def _scan(folder: Path) -> dict[str, float]:
    """The stage outputs present in a video's folder, with their mtimes."""
    found: dict[str, float] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name in _OUTPUT_NAMES:
                    try:
                        found[entry.name] = entry.stat().st_mtime
                    except OSError:
                        continue
    except (FileNotFoundError, NotADirectoryError):
        pass
    return found


# -- accounts -------------------------------------------------------------------------------------
def account_statuses(config: dict[str, Any], settings: Settings, now: float) -> list[AccountStatus]:
    accounts = cf_accounts.from_config(config)
    states = cf_accounts.read_states(settings.state + "/accounts", [a.name for a in accounts])
    pacing = settings.pacing
    out = []
    for account in accounts:
        state = states[account.name]
        health.refresh(state, health.cookie_mtime(account.cookies))
        until = health.paused_until(state, now)
        if health.is_disabled(state):
            status, reason = "disabled", state.get("disabled_reason")
        elif until:
            status, reason = "paused", "repeated rate limits"
        else:
            status, reason = "active", None
        last = state.get("last_start")
        own = cf_accounts.pacing_of(account, pacing)
        warm = state.get("downloads_started", 0) < own.warmup.videos
        low = (own.warmup.delay if warm else own.delay)[0]
        gap = max(own.floor, low * health.multiplier(state))
        next_start = max((last + gap) if last else 0.0, health.ready_at(state)) or None
        out.append(AccountStatus(account.name, status, reason, until, last, next_start,
                                 health.multiplier(state), int(state.get("successes", 0)),
                                 int(state.get("failures", 0))))  # fmt: skip
    return out


# -- the whole ------------------------------------------------------------------------------------
def collect(config: dict[str, Any], workdir: Path | None = None, now: float | None = None) -> Status:
    """The batch's status now. `config` is the merged workflow config (claimflow.core.config.load)."""
    workdir = workdir or Path.cwd()
    now = time.time() if now is None else now
    settings = Settings.from_config(config)
    results = Path(settings.results)
    if not results.is_absolute():
        results = workdir / results
    batch = cf_sources.batch_of(config, cwd=workdir)
    vids = vids_on_disk(batch, results)
    running_outputs = incomplete_outputs(workdir)
    alive = snakemake_running(workdir)
    paths = layout.Results.of(results)
    stored = _stored_rows(Path(paths.database))

    stages = {stage: StageStatus() for stage in STAGES}
    finished: dict[str, list[float]] = {stage: [] for stage in STAGES}
    audio: list[tuple[float, float]] = []  # (transcribed at, hours)
    mined_hours = 0.0  # of the videos whose LLM usage is counted: what the spend per audio hour is over
    usage = UsageTotal()
    buffer_size = 0
    first_download: tuple[float, Path] | None = None
    failed_videos = []

    outcomes: dict[str, int] = {}
    taken: dict[str, int] = {}  # downloaded videos by the road they took
    asked = 0  # videos the captions pass has asked about
    linked = 0  # videos linked across the batch
    summarized = 0  # videos with a summary
    for vid in vids:
        folder = results / vid
        present = _scan(folder)
        row = stored.get(vid)
        if row is not None:
            outcomes[row["status"]] = outcomes.get(row["status"], 0) + 1
        unavailable = False
        if layout.DOWNLOAD in present:
            if first_download is None or present[layout.DOWNLOAD] < first_download[0]:
                first_download = (present[layout.DOWNLOAD], folder / layout.DOWNLOAD)
            if layout.TRANSCRIPT not in present:  # the buffer's count (claimflow/download/buffer.py)
                with contextlib.suppress(OSError):
                    buffer_size += os.path.getsize(folder / layout.AUDIO) > 0
            if row is not None:
                unavailable = row["status"] == "unavailable"
                road = row["road"] or roads.AUDIO
            else:
                manifest = atomic.read_json_or_empty(folder / layout.DOWNLOAD)
                unavailable = manifest.get("status") == "unavailable"
                road = roads.of_manifest(manifest)
            if not unavailable:
                taken[road] = taken.get(road, 0) + 1
        asked += layout.FOUND in present
        linked += layout.LINKED in present
        summarized += layout.SUMMARIZED in present
        previous_done = True
        for stage in STAGES:
            name = OUTPUTS[stage]
            counts = stages[stage]
            if unavailable:
                counts.unavailable += 1
                continue
            if name in present:
                counts.done += 1
                finished[stage].append(present[name])
                counts.last_hour += present[name] >= now - HOUR
                previous_done = True
                continue
            if not previous_done:
                continue
            previous_done = False
            if os.path.normpath(folder.absolute() / name) in running_outputs:
                if alive is False:
                    counts.interrupted += 1
                else:
                    counts.running += 1
            elif (mark := _log_mark(Path(paths.log(stage, vid)))) == FAILED_MARK:
                counts.failed += 1
                failed_videos.append({"vid": vid, "stage": stage, "log": paths.log(stage, vid)})
            elif mark == INTERRUPTED_MARK:
                counts.interrupted += 1
            elif mark == BUDGET_MARK:
                counts.budget += 1
            else:
                counts.waiting += 1
        # Audio hours and LLM usage: from the database when stored, else from the video's files.
        if row is not None:
            if layout.TRANSCRIPT in present and row["duration"]:
                audio.append((present[layout.TRANSCRIPT], row["duration"] / HOUR))
            usage.add_record(row)
            mined_hours += (row["duration"] or 0.0) / HOUR if row["requests"] or row["prompt_tokens"] else 0.0
        else:
            if layout.TRANSCRIPT in present:
                duration = atomic.read_json_or_empty(folder / layout.TRANSCRIPT).get("duration") or 0.0
                audio.append((present[layout.TRANSCRIPT], float(duration) / HOUR))
            partial = False
            if layout.CLAIMS in present and layout.TRANSCRIPT in present:
                mined_hours += audio[-1][1]
            for name in (layout.CLAIMS, layout.EVALUATION):
                if name in present:
                    doc = atomic.read_json_or_empty(folder / name)
                    usage.add_record(doc.get("usage") or {})
                    partial = partial or doc.get("status") == "partial"
            if partial:
                outcomes["partial, not stored yet"] = outcomes.get("partial, not stored yet", 0) + 1

    started_at = None
    if first_download is not None:
        job = atomic.read_json_or_empty(first_download[1]).get("job") or {}
        started_at = float(job.get("started") or first_download[0])
    elapsed = (now - started_at) if started_at else None
    total = len(vids)
    for stage in STAGES:
        counts = stages[stage]
        counts.remaining = total - counts.done - counts.unavailable
        if elapsed and elapsed > 0:
            counts.per_hour = round(counts.done / (elapsed / HOUR), 3)
            counts.per_hour_last_hour = float(counts.last_hour) if elapsed >= HOUR else counts.per_hour
        rate = counts.per_hour_last_hour or counts.per_hour
        if counts.remaining == 0:
            counts.eta_seconds = 0.0
        elif rate:
            counts.eta_seconds = round(counts.remaining / rate * HOUR, 1)
    eta, bound = _eta(stages)
    if alive is False:  # no run: nothing is moving, so there is no ETA to count down
        eta = None
        for counts in stages.values():
            counts.eta_seconds = None
    audio_hours = sum(hours for _, hours in audio)
    run = last_run(workdir)
    buffer = settings.pacing.buffer
    return Status(
        generated_at=now,
        results=str(results),
        videos=total,
        snakemake_running=alive,
        started_at=started_at,
        elapsed_seconds=round(elapsed, 1) if elapsed and alive is not False else None,
        last_run=run,
        stages=stages,
        accounts=account_statuses(config, settings, now),
        buffer=BufferStatus(buffer_size, buffer.min, buffer.target, buffer.max),
        audio_hours=round(audio_hours, 4),
        # A first download stamped ahead of this clock (another host's, or a clock set back) gives no rate.
        audio_hours_per_hour=round(audio_hours / (elapsed / HOUR), 4) if elapsed and elapsed > 0 else None,
        audio_hours_last_hour=round(sum(h for t, h in audio if t >= now - HOUR), 4),
        llm=usage,
        eta_seconds=eta,
        bound_by=bound,
        outcomes=outcomes,
        failed_videos=failed_videos,
        collections=count_lines(batch.collections, results),
        gates=[gate.line(state) for state in gate.decisions(settings.state)],
        roads=dict(sorted(taken.items())),
        captions_asked=asked,
        linked=linked,
        summarized=summarized,
        budget=budget_status(
            results,
            settings,
            usage,
            mined_hours,
            (audio_hours / len(audio) if audio else 0.0) * (total - stages["download"].unavailable),
        ),
    )


def budget_status(results: Path, settings: Settings, usage: UsageTotal, mined_hours: float,
                  batch_hours: float) -> BudgetStatus:  # fmt: skip
    """The spend (the shared ledger; the videos' own records before any request was counted
    there) against llm.budget, and the whole batch's projected from the spend per audio hour."""
    budget = settings.llm_runtime.budget
    ledger = cf_budget.read(results)
    if not ledger:
        ledger = {"tokens": usage.prompt_tokens + usage.completion_tokens, "usd": usage.cost_usd or 0.0,
                  "priced": usage.cost_usd is not None}  # fmt: skip
    usd = ledger.get("usd", 0.0) if ledger.get("priced", True) else None
    # Per audio hour from the videos' own records (what mining and evaluating an hour cost), the
    # batch's hours at the mean length of those transcribed so far.
    projection = Projection.of(usage.prompt_tokens + usage.completion_tokens, usage.cost_usd, mined_hours,
                               batch_hours)  # fmt: skip
    return BudgetStatus(
        tokens=int(ledger.get("tokens", 0)), usd=usd, cap_tokens=budget.tokens, cap_usd=budget.usd,
        spent=cf_budget.spent_text(ledger, budget),
        reached=cf_budget.reached_message(ledger, budget) if cf_budget.still_reached(ledger.get("reached"), budget)
        else None,
        projection=projection, projected=projection.line(budget) if projection else None,
    )  # fmt: skip


def _eta(stages: dict[str, StageStatus]) -> tuple[float | None, str | None]:
    """The batch ends when its slowest stage does: the largest of the stages' remaining times.
    Unknown while a stage with work left has no measured rate yet."""
    pending = {s: c for s, c in stages.items() if c.remaining > 0}
    if not pending:
        return 0.0, None
    unknown = [s for s, c in pending.items() if c.eta_seconds is None]
    if unknown:
        return None, unknown[0]
    bound = max(pending, key=lambda s: pending[s].eta_seconds or 0.0)
    return pending[bound].eta_seconds, bound

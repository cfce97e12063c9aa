"""The batch planner: how long a batch takes, which stage bounds it, and what would move it.

A discrete-event model of the workflow as it runs: the captions pass asks for each video's
captions in turn, one request per mean gap of its own pacing; a video with usable captions (the
`captioned` share, spread evenly through the batch) takes no account's turn and gets its
transcript from its captions, in seconds on the transcription slots (the captions road);
the others take the audio road: each account starts a download when the video's captions pass is
done and its pacing gap has passed (the warm-up range for its first videos, the gap scaled by the buffer
rule: faster below `buffer.min`, slower above `buffer.target`, no start at `buffer.max`) and
its one slot is free; a downloaded video joins the buffer, and goes through transcribe, mine,
evaluate and store, each a pool of workers taking videos in order. Gaps are the range's mean:
the plan is for expected times, not one draw.
"""

from __future__ import annotations

import heapq
import math
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from claimflow.core import atomic
from claimflow.core.settings import Buffer, Settings
from claimflow.download import roads
from claimflow.download.accounts import from_config as from_accounts
from claimflow.download.accounts import pacing_of
from claimflow.llm import client as cf_llm
from claimflow.llm.budget import Projection

PROCESSING = ("transcribe", "mine", "evaluate", "store")


@dataclass(frozen=True)
class Stage:
    seconds: float  # per video
    workers: int

    @property
    def per_hour(self) -> float:
        return self.workers * 3600.0 / self.seconds if self.seconds > 0 else math.inf


@dataclass(frozen=True)
class Batch:
    videos: int
    accounts: int
    gap: tuple[float, float]  # pacing.delay
    warmup_videos: int  # per account
    warmup_gap: tuple[float, float]
    floor: float
    buffer: Buffer
    download_seconds: float  # the transfer itself
    stages: dict[str, Stage]
    # Per account, its own (gap, floor) where it has them (claimflow.download.accounts.pacing_of);
    # accounts beyond this list (`--accounts N`) are paced by `gap` and `floor`.
    paces: tuple[tuple[tuple[float, float], float], ...] = ()
    captioned: float = 0.0  # the share of videos with usable captions (the captions road)
    captions_seconds: float = 0.0  # the captions pass's mean time per video (its gap); 0: no pass
    # A captioned video's transcription job: its transcript made from the captions, seconds on one
    # CPU thread, off the transcription slots (its job asks for no GPU: rules/common.smk).
    captioned_transcribe_seconds: float = 0.0

    def is_captioned(self, video: int) -> bool:
        """Video `video` has usable captions: the share spread evenly through the batch."""
        return math.floor((video + 1) * self.captioned + 1e-9) > math.floor(video * self.captioned + 1e-9)

    @property
    def audio_videos(self) -> int:
        return sum(not self.is_captioned(v) for v in range(self.videos))

    def pace_of(self, account: int) -> tuple[tuple[float, float], float]:
        return self.paces[account] if account < len(self.paces) else (self.gap, self.floor)

    @property
    def mean_gap(self) -> float:
        """The accounts' mean gap (each account's own range's mean)."""
        return sum(sum(self.pace_of(a)[0]) / 2 for a in range(self.accounts)) / max(1, self.accounts)

    def account_per_hour(self, account: int, factor: float = 1.0) -> float:
        (low, high), floor = self.pace_of(account)
        return 3600.0 / max(self.download_seconds, max(floor, (low + high) / 2 * factor))

    def download_per_hour(self, factor: float = 1.0) -> float:
        return sum(self.account_per_hour(a, factor) for a in range(self.accounts))


@dataclass
class Outcome:
    makespan: float  # seconds
    warmup_end: float  # the last account's last warm-up download
    downloads_end: float
    finished: list[float] = field(default_factory=list)  # per video, when stored
    downloaded: list[float] = field(default_factory=list)
    max_buffer: int = 0

    def rate(self, times: list[float], start: float, end: float) -> float:
        """Videos per hour over [start, end)."""
        span = end - start
        return sum(start <= t < end for t in times) * 3600.0 / span if span > 0 else 0.0


def simulate(batch: Batch) -> Outcome:
    """Run the model; returns when each video was downloaded and stored."""
    events: list[tuple[float, int, str, int]] = []  # (time, order, kind, video)
    order = iter(range(1 << 62))

    def push(time: float, kind: str, video: int) -> None:
        heapq.heappush(events, (time, next(order), kind, video))

    audio = [v for v in range(batch.videos) if not batch.is_captioned(v)]
    per_account = [audio[a :: batch.accounts] for a in range(batch.accounts)]
    asked = [v * batch.captions_seconds + batch.captions_seconds for v in range(batch.videos)]  # the pass done
    position = [0] * batch.accounts  # next video index within the account's list
    last_start = [None] * batch.accounts
    buffer = 0
    waiting_accounts: list[int] = []  # held back by a full buffer
    queues: dict[str, list[int]] = {s: [] for s in PROCESSING}
    busy = dict.fromkeys(PROCESSING, 0)
    downloaded = [0.0] * batch.videos
    stored = [0.0] * batch.videos
    warmup_end = 0.0

    def factor() -> float | None:
        limits = batch.buffer
        if buffer >= limits.max:
            return None
        return limits.fast if buffer < limits.min else limits.slow if buffer > limits.target else 1.0

    def plan_download(account: int, now: float) -> None:
        """The account's slot is free: its next download starts after its gap."""
        if position[account] >= len(per_account[account]):
            return
        scale = factor()
        if scale is None:
            waiting_accounts.append(account)
            return
        warm = position[account] < batch.warmup_videos
        own_gap, floor = batch.pace_of(account)
        low, high = batch.warmup_gap if warm else own_gap
        gap = max(floor, (low + high) / 2 * scale)
        start = now if last_start[account] is None else max(now, last_start[account] + gap)
        push(max(start, asked[per_account[account][position[account]]]), "start", account)

    def start_work(stage: str, now: float) -> None:
        while queues[stage] and busy[stage] < batch.stages[stage].workers:
            video = queues[stage].pop(0)
            busy[stage] += 1
            push(now + batch.stages[stage].seconds, stage, video)

    for account in range(batch.accounts):
        plan_download(account, 0.0)
    for video in range(batch.videos):
        if batch.is_captioned(video):
            push(asked[video], "captioned", video)
    max_buffer = 0
    while events:
        now, _, kind, item = heapq.heappop(events)
        if kind == "captioned":  # no audio, not in the buffer (claimflow/download/buffer.py): its transcript
            downloaded[item] = now  # from the captions, off the transcription slots
            push(now + batch.captioned_transcribe_seconds, "from captions", item)
            continue
        if kind == "from captions":
            queues[PROCESSING[1]].append(item)
            start_work(PROCESSING[1], now)
            continue
        if kind == "start":
            account = item
            video = per_account[account][position[account]]
            if position[account] < batch.warmup_videos:
                warmup_end = max(warmup_end, now)
            position[account] += 1
            last_start[account] = now
            push(now + batch.download_seconds, "download", video * batch.accounts + account)
            continue
        if kind == "download":
            video, account = divmod(item, batch.accounts)
            downloaded[video] = now
            buffer += 1
            max_buffer = max(max_buffer, buffer)
            queues["transcribe"].append(video)
            start_work("transcribe", now)
            plan_download(account, now)
            continue
        # a processing stage finished `item`
        busy[kind] -= 1
        start_work(kind, now)
        following = PROCESSING.index(kind) + 1
        if kind == "transcribe" and not batch.is_captioned(item):  # transcript.json: its audio leaves the buffer
            buffer -= 1
            resumed, waiting_accounts[:] = list(waiting_accounts), []
            for account in resumed:
                plan_download(account, now)
        if following < len(PROCESSING):
            queues[PROCESSING[following]].append(item)
            start_work(PROCESSING[following], now)
        else:
            stored[item] = now
    return Outcome(max(stored, default=0.0), warmup_end, max(downloaded, default=0.0), stored, downloaded, max_buffer)


# -- the plan as the user reads it ------------------------------------------------------------------
def bound(batch: Batch) -> tuple[str, float]:
    """The stage that bounds the batch and its rate (videos/h). Downloads can run at the buffer's
    fast factor whenever processing keeps up, so they bound only when even that is slower."""
    rates = {stage: batch.stages[stage].per_hour for stage in PROCESSING}
    slowest = min(rates, key=rates.__getitem__)
    fast_downloads = batch.download_per_hour(batch.buffer.fast)
    if fast_downloads < rates[slowest]:
        return "download", fast_downloads
    return slowest, rates[slowest]


def two_road_bound(batch: Batch) -> tuple[str, float]:
    """The stage whose total work bounds the batch, and that bound in seconds: the captions pass
    asks every video, the accounts and transcription see only the audio road's videos (a
    transcript from captions holds no transcription slot), and mining, evaluation and storing
    see them all."""
    audio = batch.audio_videos
    work = {"captions pass": batch.videos * batch.captions_seconds,
            "download": audio * 3600.0 / batch.download_per_hour() if audio else 0.0}  # fmt: skip
    for stage in PROCESSING:
        work[stage] = batch.videos * batch.stages[stage].seconds / batch.stages[stage].workers
    work["transcribe"] = audio * batch.stages["transcribe"].seconds / batch.stages["transcribe"].workers
    stage = max(work, key=work.__getitem__)
    return stage, work[stage]


CAPTIONED_SHARES = (0.0, 0.5, 0.8, 0.95)


def by_share(batch: Batch) -> list[tuple[float, float, str, float]]:
    """(share, makespan s, bounding stage, its bound s) with each share of videos captioned."""
    rows = []
    for share in CAPTIONED_SHARES:
        variant = replace(batch, captioned=share)
        stage, seconds = two_road_bound(variant)
        rows.append((share, simulate(variant).makespan, stage, seconds))
    return rows


# Threads one job of a processing stage uses (the rules' `threads:`); store is one thread.
THREADS_PER_WORKER = {"transcribe": 2, "mine": 2, "evaluate": 2, "store": 1}


def variants(batch: Batch, cores: int | None = None) -> Iterator[tuple[str, Batch, str]]:
    """What could move the batch: one more account, enough workers for the slowest processing
    stage to keep up with the downloads, a transcription twice as fast. Workers need cores: a
    variant beyond `cores` (this machine's, by default) says how many it needs."""
    cores = cores or os.cpu_count() or 1
    yield "one more account", replace(batch, accounts=batch.accounts + 1), ""
    rates = {stage: batch.stages[stage].per_hour for stage in PROCESSING}
    slowest = min(rates, key=rates.__getitem__)
    stage = batch.stages[slowest]
    needed = math.ceil(batch.download_per_hour() * stage.seconds / 3600.0)
    if needed > stage.workers:
        stages = dict(batch.stages, **{slowest: replace(stage, workers=needed)})
        note = ""
        if (wanted := needed * THREADS_PER_WORKER[slowest]) > cores:
            where = "an OpenAI-compatible endpoint" if slowest in ("mine", "evaluate") else "a cluster or a GPU"
            note = f"needs {wanted} cores, this machine has {cores}: {where}"
        yield f"{needed - stage.workers} more {slowest} workers ({needed})", replace(batch, stages=stages), note
    faster = replace(batch.stages["transcribe"], seconds=batch.stages["transcribe"].seconds / 2)
    yield ("transcription twice as fast (a smaller model, or a GPU)",
           replace(batch, stages=dict(batch.stages, transcribe=faster)), "")  # fmt: skip


def per_video(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def days(seconds: float) -> str:
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h = {seconds / 86400:.1f} days"


@dataclass
class Phase:
    name: str
    hours: float
    stored: int
    notes: str


def phases(batch: Batch, outcome: Outcome) -> list[Phase]:
    """Warm-up, steady state, drain (each only when it lasts), and the total."""
    steady = outcome.rate(outcome.finished, outcome.warmup_end, outcome.downloads_end)
    found = [
        Phase("warm-up", outcome.warmup_end / 3600, sum(t < outcome.warmup_end for t in outcome.finished),
              f"first {batch.warmup_videos} downloads of each account at {batch.warmup_gap[0]:g}-"
              f"{batch.warmup_gap[1]:g} s"),
        Phase("steady state", (outcome.downloads_end - outcome.warmup_end) / 3600,
              sum(outcome.warmup_end <= t < outcome.downloads_end for t in outcome.finished),
              f"{steady:.1f} stored/h; the buffer peaks at {outcome.max_buffer}"),
        Phase("drain", (outcome.makespan - outcome.downloads_end) / 3600,
              sum(t >= outcome.downloads_end for t in outcome.finished), "after the last download"),
    ]  # fmt: skip
    kept = [phase for phase in found if phase.hours > 0 and (phase.stored or phase.name != "steady state")]
    return [*kept, Phase("total", outcome.makespan / 3600, batch.videos, days(outcome.makespan))]


def summary(batch: Batch, sources: dict[str, str] | None = None, cores: int | None = None) -> dict:
    """The plan as data: `claimflow plan --json`, and what render() prints."""
    outcome = simulate(batch)
    stage, rate = bound(batch)
    moves = []
    for label, variant, note in variants(batch, cores):
        other = simulate(variant).makespan
        relative = round((other - outcome.makespan) / outcome.makespan, 4) if outcome.makespan else 0.0
        moves.append({"change": label, "makespan_hours": round(other / 3600, 2), "relative": relative,
                      "note": note or None})  # fmt: skip
    stages = {"download": {"gap_seconds": batch.mean_gap, "parallel": batch.accounts,
                           "per_hour": round(batch.download_per_hour(), 2),
                           "per_hour_below_min": round(batch.download_per_hour(batch.buffer.fast), 2),
                           "per_hour_above_target": round(batch.download_per_hour(batch.buffer.slow), 2),
                           "transfer_seconds": batch.download_seconds}}  # fmt: skip
    for name in PROCESSING:
        s = batch.stages[name]
        stages[name] = {"seconds": s.seconds, "parallel": s.workers, "per_hour": round(s.per_hour, 2)}
    road, road_seconds = two_road_bound(batch)
    roads = {"captioned": batch.captioned, "audio_videos": batch.audio_videos,
             "captions_pass_seconds": batch.captions_seconds, "bound_by": road,
             "bound_hours": round(road_seconds / 3600, 2),
             "by_share": [{"captioned": share, "makespan_hours": round(span / 3600, 2), "bound_by": where,
                           "bound_hours": round(work / 3600, 2)}
                          for share, span, where, work in by_share(batch)]}  # fmt: skip
    return {"videos": batch.videos, "accounts": batch.accounts, "times_from": dict(sources or {}), "stages": stages,
            "roads": roads,
            "bound_by": stage, "bound_per_hour": round(rate, 2),
            "phases": [vars(phase) | {"hours": round(phase.hours, 2)} for phase in phases(batch, outcome)],
            "makespan_hours": round(outcome.makespan / 3600, 2), "what_would_move_it": moves}  # fmt: skip


def render(batch: Batch, sources: dict[str, str] | None = None, cores: int | None = None) -> str:
    """The plan as tables; `sources` says where each stage's time came from."""
    outcome = simulate(batch)
    stage, rate = bound(batch)
    lines = [
        f"claimflow plan: {batch.videos} videos, {batch.accounts} accounts",
        *(f"  {name}: {origin}" for name, origin in (sources or {}).items()),
        "",
        f"{'stage':12s} {'per video':>14s} {'parallel':>10s} {'videos/h':>10s}",
        f"{'download':12s} {f'{batch.mean_gap:.0f} s gap':>14s} {f'{batch.accounts} acc.':>10s} "
        f"{batch.download_per_hour():>10.1f}   ({batch.download_per_hour(batch.buffer.fast):.1f} while the buffer "
        f"is below {batch.buffer.min}, {batch.download_per_hour(batch.buffer.slow):.1f} above {batch.buffer.target})",
    ]
    for name in PROCESSING:
        s = batch.stages[name]
        lines.append(f"{name:12s} {per_video(s.seconds):>14s} {s.workers:>10d} {s.per_hour:>10.1f}")
    road, road_seconds = two_road_bound(batch)
    lines += ["", f"bound by {stage}: {rate:.1f} videos/h",
              f"two roads: {batch.captioned:.0%} captioned (no account's turn, no Whisper), {batch.audio_videos} "
              f"videos on the audio road, the captions pass {per_video(batch.captions_seconds)} a video: "
              f"bound by {road}, {days(road_seconds)} of work", ""]  # fmt: skip
    lines.append(f"{'phase':14s} {'hours':>8s} {'videos stored':>14s}  notes")
    lines += [f"{p.name:14s} {p.hours:>8.1f} {p.stored:>14d}  {p.notes}" for p in phases(batch, outcome)]
    lines += ["", f"{'captioned':>10s} {'makespan':>24s}  bound by (its work)"]
    for share, span, where, work in by_share(batch):
        lines.append(f"{share:>10.0%} {days(span):>24s}  {where} ({days(work)})")
    lines += ["", "what would move it:"]
    for label, variant, note in variants(batch, cores):
        other = simulate(variant).makespan
        change = "no change" if abs(other - outcome.makespan) < 0.01 * outcome.makespan else (
            f"{(other - outcome.makespan) / outcome.makespan:+.0%}")  # fmt: skip
        lines.append(f"  {label}: {days(other)} ({change}{'; ' + note if note else ''})")
    return "\n".join(lines)


# -- from the config and earlier runs ---------------------------------------------------------------
# A typical hour-long video, from the problem statement's own table, when nothing was measured.
TYPICAL_SECONDS = {"download": 45.0, "transcribe": 1200.0, "mine": 210.0, "evaluate": 45.0, "store": 2.0,
                   "transcribe_captions": 2.0}  # fmt: skip


def measured_seconds(results: str) -> dict[str, tuple[float, int]]:
    """Mean seconds per video of each stage, from the `benchmark:` files of earlier runs
    (downloads: the transfer itself, from download.json, without the pacing wait). Transcription
    by road: `transcribe` over the audio road's videos (Whisper), `transcribe_captions` over the
    captions road's (a transcript made from captions)."""
    found: dict[str, tuple[float, int]] = {}
    root = Path(results)
    transfers, captioned = [], set()
    for manifest in root.glob("*/download.json"):
        doc = atomic.read_json_or_empty(manifest)
        if roads.of_manifest(doc) == roads.CAPTIONS:
            captioned.add(manifest.parent.name)
        seconds = (doc.get("timings") or {}).get("download_seconds")
        if seconds is not None:
            transfers.append(float(seconds))
    if transfers:
        found["download"] = (statistics.mean(transfers), len(transfers))
    for stage in PROCESSING:
        by_road: dict[str, list[float]] = {stage: [], "transcribe_captions": []}
        for bench in (root / "benchmarks" / stage).glob("*.tsv"):
            if (seconds := atomic.benchmark_seconds(bench)) is not None:
                road = "transcribe_captions" if stage == "transcribe" and bench.stem in captioned else stage
                by_road[road].append(seconds)
        found.update({name: (statistics.mean(values), len(values)) for name, values in by_road.items() if values})
    return found


def from_config(
    config: dict,
    videos: int,
    minutes: dict[str, float],
    workers: dict[str, int],
    accounts: int | None = None,
    gap: tuple[float, float] | None = None,
    use_measured: bool = False,
    captioned: float | None = None,
) -> tuple[Batch, dict[str, str]]:
    """The batch the config describes; each stage's time given (`minutes`), else, with
    `use_measured`, measured in the results folder, else a typical hour-long video's. A plan is
    for the batch to come: the figures of whatever ran in this folder (the demo's 30-second
    clips) are used only when asked for. Returns the batch and where each time came from."""

    settings = Settings.from_config(config)
    measured = measured_seconds(settings.results) if use_measured else {}
    seconds, origins = {}, {}
    for stage in ("download", *PROCESSING):
        if stage in minutes:
            seconds[stage], origins[stage] = minutes[stage] * 60, "given"
        elif stage in measured:
            value, count = measured[stage]
            seconds[stage], origins[stage] = value, f"measured ({count} videos in {settings.results})"
        else:
            why = "nothing measured" if use_measured else "--measured uses this folder's runs"
            seconds[stage], origins[stage] = TYPICAL_SECONDS[stage], f"typical hour-long video ({why})"
    slots = cf_llm.concurrency_slots(settings)
    default_workers = {"transcribe": max(1, (os.cpu_count() or 2) // 2), "mine": slots, "evaluate": slots, "store": 1}
    default_workers.update(workers)
    pacing = settings.pacing
    # Each configured account's own pacing (--gap, when given, replaces every account's range).
    own = [pacing_of(account, pacing) for account in from_accounts(config)]
    paces = tuple((tuple(gap) if gap else p.delay, p.floor) for p in own)
    asking = settings.captions.pacing
    captions_seconds = max(asking.floor, sum(asking.delay) / 2) if settings.captions.enabled else 0.0
    captioned_transcribe = measured.get("transcribe_captions", (TYPICAL_SECONDS["transcribe_captions"], 0))[0]
    batch = Batch(
        videos=videos,
        accounts=accounts or len(config["accounts"]),
        gap=tuple(gap or pacing.delay),
        warmup_videos=pacing.warmup.videos,
        warmup_gap=tuple(pacing.warmup.delay),
        floor=pacing.floor,
        buffer=pacing.buffer,
        download_seconds=seconds["download"],
        stages={stage: Stage(seconds[stage], default_workers[stage]) for stage in PROCESSING},
        paces=paces,
        captions_seconds=captions_seconds,
        captioned_transcribe_seconds=captioned_transcribe,
    )
    origins = {f"{stage} time": origins[stage] for stage in ("download", *PROCESSING)}
    share, origin = (captioned, "given") if captioned is not None else measured_share(settings.results)
    if not settings.captions.enabled:
        share, origin = 0.0, "captions.enabled is off"
    origins["captioned share"] = origin
    return replace(batch, captioned=share), origins


def measured_share(results: str) -> tuple[float, str]:
    """The share of videos the captions pass found usable captions for so far (its records in
    `results`), or 0 when it has asked none."""
    records = [atomic.read_json_or_empty(p) for p in Path(results).glob("*/captions.json")]
    asked = [r for r in records if r.get("status") == "ok"]
    if not asked:
        return 0.0, "nothing asked yet (--captioned gives a share)"
    usable = sum(any(t.get("kind") == "human" for t in r.get("tracks") or []) for r in asked)
    return usable / len(asked), f"measured ({usable} of {len(asked)} videos asked had human captions)"


# -- the LLM spend ----------------------------------------------------------------------------------
def spend(config: dict, videos: int, use_measured: bool = False) -> tuple[Projection | None, str]:
    """The batch's projected LLM spend: the tokens (and dollars) per audio hour this folder's
    stored videos cost (results/usage.json, written at every run's end) times the batch's
    hours (a typical hour-long video each; with `use_measured`, the stored videos' mean
    length). None, with why, before any video was mined here."""
    settings = Settings.from_config(config)
    usage = atomic.read_json_or_empty(Path(settings.results) / "usage.json")
    hours, stored = float(usage.get("audio_hours") or 0.0), int(usage.get("videos") or 0)
    tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
    if not hours or not tokens:
        return None, "nothing mined in this folder yet: run a few videos, then plan again"
    per_video = hours / stored if use_measured and stored else 1.0
    projection = Projection.of(tokens, usage.get("cost_usd"), hours, per_video * videos)
    length = f"{per_video * 60:.1f} min a video (measured)" if use_measured and stored else "an hour a video"
    return projection, f"measured over {hours:.2f} audio hours in {settings.results}, {length}"

"""The batch report: one self-contained HTML file (figures inlined as SVG, no script, nothing
fetched at view time), built from whatever exists, so it can be made at any moment of a batch.

Figures come from matplotlib; each is also written as its own SVG for Snakemake's report
(`snakemake --report`). Every string from the outside world (titles, reasons, claims, URLs) is
escaped, and only http(s) links and the user's own local files (with the moment as a media
fragment) become anchors.

It reads at corpus scale: the header says when it was made, from what, and where the batch
stands; videos are counted by outcome in a fixed order; per-video detail is closed and bounded
(the best TOP_VIDEOS videos; the rest are in the database), and pending videos are counted by
stage instead of listed one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.commands import status as cf_status
from claimflow.commands.status import RunTimes, Status
from claimflow.commands.statusview import clock, duration, eta
from claimflow.core import atomic, layout
from claimflow.core.config import WORKFLOW_DIR
from claimflow.core.settings import Pacing, Settings
from claimflow.store import query, summary

# Titles here; the captions are the workflow's report/<name>.rst, shared with Snakemake's report.
FIGURES = {
    "downloads": "Downloads over time per account, and the pacing gap before each",
    "buffer": "Download buffer: videos with audio not yet transcribed",
    "throughput": "Stage throughput: videos finished over time",
    "durations": "Stage durations per video",
    "tiers": "Claims by evaluation outcome and tier",
    "tokens": "LLM tokens per video against its audio length",
}
CAPTIONS = WORKFLOW_DIR / "report"
# Outcomes in the order a reader asks about them (summary.tsv's `status`, its stage aside).
OUTCOME_ORDER = ("ok", "partial", "failed", "interrupted", "budget", "unavailable", "no_speech", "not_english",
                 "pending")  # fmt: skip
TOP_VIDEOS = 50  # videos with their best claims in the page; the database holds every one
TOP_CLAIMS = 3  # claims per video shown
TOP_CLUSTERS = 20  # claims made in several videos shown (the most videos first)
CLUSTER_MEMBERS = 5  # each one's videos shown with their moment; `claimflow clusters` lists all
TOP_CONTESTED = 10  # pairs of claims judged contradicting shown; `claimflow contested` lists all
TOP_ENTRIES = 10  # people and terms shown (the most videos first); `claimflow people` / `terms` list all
PROBLEM_ROWS = 200  # unavailable, failed, partial and interrupted videos listed one by one


def caption(name: str) -> str:
    """The figure's caption, from its reStructuredText file, as plain text."""
    try:
        text = (CAPTIONS / f"{name}.rst").read_text()
    except OSError:
        return ""
    return " ".join(text.replace("``", "").split())


@dataclass(frozen=True)
class Download:
    vid: str
    account: str | None
    status: str
    started: float
    gap: float | None


@dataclass(frozen=True)
class Context:
    """What the header says: when, from what, and where the batch stands."""

    generated_at: float
    results: str  # absolute
    config_files: tuple[str, ...] = ()
    local_model: bool = False  # the LLM runs here: it costs nothing
    status: Status | None = None  # running or not, and the ETA
    runs: tuple[RunTimes, ...] = ()  # each run's start and end, for the time between runs


@dataclass
class ReportData:
    rows: list[dict[str, Any]]
    downloads: list[Download]
    finished: dict[str, list[float]]  # stage -> completion times
    mined_at: dict[str, float]
    downloaded_at: dict[str, float]
    durations: dict[str, list[float]]  # stage -> seconds per job
    tiers: Counter[str]
    top_claims: dict[str, list[query.ClaimRow]]
    delay: tuple[float, float]
    buffer_limits: tuple[int, int, int]
    collections: list[dict[str, Any]] = field(default_factory=list)
    warmup: tuple[int, tuple[float, float]] = (0, (0.0, 0.0))  # downloads per account, their gap range
    gates: list[dict[str, Any]] = field(default_factory=list)  # the automatic captions gate per channel
    context: Context | None = None
    clusters: list[query.ClusterRow] = field(default_factory=list)  # claims made in several videos
    people: list[query.CatalogueRow] = field(default_factory=list)  # the batch's most discussed
    terms: list[query.CatalogueRow] = field(default_factory=list)
    catalogue_note: str | None = None  # why the user's corrections were not applied
    contested: list[query.PairRow] = field(default_factory=list)  # claims of two videos that contradict
    summaries: dict[str, query.SummaryRow] = field(default_factory=dict)  # of the videos shown (summarize.enabled)


def gather(pacing: Pacing, vids: list[str], results: str | Path | layout.Results,
           context: Context | None = None, corrections: str | None = None) -> ReportData:  # fmt: skip
    results = layout.Results.of(results)
    database = Path(results.database)
    rows = summary.rows(database, vids, results)
    downloads, downloaded_at, mined_at = [], {}, {}
    finished: dict[str, list[float]] = {stage: [] for stage in layout.STAGE_FILE}
    durations: dict[str, list[float]] = {stage: [] for stage in layout.STAGE_FILE}
    for vid in vids:
        folder = Path(results.video(vid))
        for stage, name in layout.STAGE_FILE.items():
            try:
                finished[stage].append((folder / name).stat().st_mtime)
            except OSError:
                continue
            seconds = atomic.benchmark_seconds(results.benchmark(stage, vid))
            if seconds is not None:
                durations[stage].append(seconds)
        manifest = atomic.read_json_or_empty(folder / layout.DOWNLOAD)
        timings = manifest.get("timings") or {}
        job = manifest.get("job") or {}
        if timings.get("started"):
            downloads.append(Download(vid, manifest.get("account"), str(manifest.get("status")),
                                      float(timings["started"]), timings.get("gap")))  # fmt: skip
        if manifest:
            downloaded_at[vid] = float(job.get("finished") or (folder / layout.DOWNLOAD).stat().st_mtime)
            with contextlib.suppress(OSError):
                mined_at[vid] = (folder / layout.CLAIMS).stat().st_mtime
    tiers: Counter[str] = Counter()
    best: dict[str, list[query.ClaimRow]] = {}
    if database.is_file():
        for claim in query.claims(database):
            tiers[claim.tier if claim.decision == "accept" and claim.tier else (claim.decision or "unevaluated")] += 1
            if claim.decision == "accept" and len(best.setdefault(claim.vid, [])) < TOP_CLAIMS:
                best[claim.vid].append(claim)
    # The videos with the best claims first; the page holds TOP_VIDEOS of them.
    ranked = sorted(best.items(), key=lambda kv: (-max((c.score or 0.0) for c in kv[1]), kv[0]))
    buffer = pacing.buffer
    people, terms, note = _catalogue(database, corrections)
    contested = query.judged_pairs(database, limit=TOP_CONTESTED) if database.is_file() else []
    shown = [vid for vid, _ in ranked[:TOP_VIDEOS]]  # a summary only for the videos the page shows
    summaries = {m.vid: m for m in query.summaries(database, shown)} if database.is_file() and shown else {}
    return ReportData(rows, sorted(downloads, key=lambda d: d.started), finished, mined_at, downloaded_at,
                      durations, tiers, dict(ranked), pacing.delay, (buffer.min, buffer.target, buffer.max),
                      collections_of(database), (pacing.warmup.videos, tuple(pacing.warmup.delay)),
                      context=context, gates=gates_of(database),
                      clusters=query.clusters(database, limit=TOP_CLUSTERS) if database.is_file() else [],
                      people=people, terms=terms, catalogue_note=note,
                      contested=contested, summaries=summaries)  # fmt: skip


def _catalogue(database: Path, corrections: str | None) -> tuple[list, list, str | None]:
    """The most discussed people and terms; a corrections file that cannot be read is named in
    the page (the report matters more than the corrections)."""
    from claimflow.knowledge import catalogue  # rapidfuzz and yaml: only once the report has a database

    if not database.is_file():
        return [], [], None
    note = None
    try:
        fixes = catalogue.load_corrections(corrections)
    except ValueError as exc:
        fixes, note = catalogue.Corrections(), str(exc)
    return (query.catalogue(database, corrections=fixes, limit=TOP_ENTRIES, claims_per_entry=1),
            query.catalogue(database, people=False, limit=TOP_ENTRIES, claims_per_entry=0), note)  # fmt: skip


_COLLECTIONS = """
SELECT c.cid, c.title, c.kind, c.url,
       (SELECT COUNT(*) FROM collection_videos h WHERE h.cid = c.cid AND h.listed = 1),
       (SELECT COUNT(*) FROM collection_videos h WHERE h.cid = c.cid AND h.listed = 0),
       (SELECT COUNT(*) FROM collection_videos h WHERE h.cid = c.cid AND h.kept = 1),
       (SELECT COUNT(*) FROM collection_videos h JOIN videos v USING (vid) WHERE h.cid = c.cid),
       (SELECT COUNT(*) FROM collection_videos h JOIN evaluations e USING (vid)
        WHERE h.cid = c.cid AND e.decision = 'accept')
FROM collections c ORDER BY c.cid
"""


def _rows(database: Path, table: str, sql: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """`sql`'s rows as dicts, none when the database or its `table` (a later schema's) is not there."""
    if not database.is_file():
        return []
    conn = query.connect(database)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
            return []
        return [dict(zip(keys, row, strict=True)) for row in conn.execute(sql)]
    finally:
        conn.close()


def collections_of(database: Path) -> list[dict[str, Any]]:
    """Per collection (channel, playlist, feed) of the database: its listing and what of it is stored."""
    keys = ("cid", "title", "kind", "url", "listed", "no_longer_listed", "kept", "stored", "accepted_claims")
    return _rows(database, "collections", _COLLECTIONS, keys)


def gates_of(database: Path) -> list[dict[str, Any]]:
    """The automatic captions gate's decision per channel, as the store jobs of its samples wrote it."""
    keys = ("channel", "decision", "median_wer", "max_wer", "sample")
    rows = _rows(database, "caption_gates", f"SELECT {', '.join(keys)} FROM caption_gates ORDER BY channel", keys)
    return [row | {"sample": json.loads(row["sample"] or "{}")} for row in rows]


# -- figures ----------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib  # matplotlib is heavy: only where a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib is heavy: only where a figure is drawn

    plt.rcParams.update({"axes.formatter.useoffset": False,
                         "svg.fonttype": "none", "figure.dpi": 96, "font.size": 9, "axes.grid": True,
                         "grid.alpha": 0.3, "svg.hashsalt": "claimflow"})  # fmt: skip
    return plt


_UNIT = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}


def _unit(data: ReportData, origin: float) -> str:
    """The time unit that suits the batch's span: seconds for the demo, hours or days for a batch."""
    times = [d.started for d in data.downloads] + [t for ts in data.finished.values() for t in ts]
    span = (max(times) - origin) if times else 0.0
    return "seconds" if span < 300 else "minutes" if span < 3 * 3600 else "hours" if span < 4 * 86400 else "days"


def _since(times: list[float], origin: float, unit: str) -> list[float]:
    return [(t - origin) / _UNIT[unit] for t in times]


def _time_label(ax, unit: str) -> None:
    ax.set_xlabel(f"{unit} since the batch's first download")


def _mark(artists) -> None:
    """Label the data a figure draws (`id="data-<n>"` in the SVG, `<figure>-data-<n>` once inlined),
    so a viewer (and the browser test) can tell a plot that shows data from an empty frame."""
    flat = []
    for artist in artists if isinstance(artists, list | tuple) else [artists]:
        flat += list(artist) if isinstance(artist, list | tuple) else [artist]
    for artist in flat:
        _mark.count = getattr(_mark, "count", 0) + 1
        artist.set_gid(f"data-{_mark.count}")


def _integer_y(ax) -> None:
    from matplotlib.ticker import MaxNLocator  # matplotlib is heavy: only where a figure is drawn

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _origin(data: ReportData) -> float:
    times = [d.started for d in data.downloads] + [t for ts in data.finished.values() for t in ts]
    return min(times) if times else 0.0


def _end(data: ReportData) -> float:
    times = [d.started for d in data.downloads] + [t for ts in data.finished.values() for t in ts]
    return max(times) if times else 0.0


def idle_spans(runs: tuple[RunTimes, ...], start: float, end: float, least: float = 60.0) -> list[tuple[float, float]]:
    """The stretches of [start, end] when no run was alive (the batch stopped between two runs),
    each at least `least` seconds: the figures shade them, so a pause is not read as a slow batch."""
    spans, cursor = [], start
    for run in sorted(runs, key=lambda r: r.started):
        if run.ended < start or run.started > end:
            continue
        if run.started - cursor >= least:
            spans.append((cursor, run.started))
        cursor = max(cursor, run.ended)
    if runs and end - cursor >= least and cursor > start:
        spans.append((cursor, end))
    return spans


def _shade_idle(axes, data: ReportData, origin: float, unit: str) -> None:
    if data.context is None:
        return
    for number, (began, ended) in enumerate(idle_spans(data.context.runs, origin, _end(data))):
        for index, ax in enumerate(axes):
            ax.axvspan((began - origin) / _UNIT[unit], (ended - origin) / _UNIT[unit], color="0.85", alpha=0.6,
                       lw=0, label="no run" if number == 0 and index == 0 else None)  # fmt: skip


def figure_svgs(data: ReportData) -> dict[str, str]:
    plt = _pyplot()
    _mark.count = 0
    origin = _origin(data)
    unit = _unit(data, origin)
    svgs = {}
    for name, draw in (("downloads", _downloads), ("buffer", _buffer), ("throughput", _throughput),
                       ("durations", _durations), ("tiers", _tiers), ("tokens", _tokens)):  # fmt: skip
        fig = draw(plt, data, origin, unit)
        out = io.StringIO()
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        svgs[name] = out.getvalue()
    return svgs


def _downloads(plt, data: ReportData, origin: float, unit: str):
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    by_account: dict[str, list[Download]] = {}
    for d in data.downloads:
        by_account.setdefault(d.account or "?", []).append(d)
    end = _since([_end(data)], origin, unit)[0] if data.downloads else 0.0
    warm_until = 0.0  # the last warm-up download of any account
    warm_count, (warm_low, warm_high) = data.warmup
    for account, items in sorted(by_account.items()):
        xs = _since([d.started for d in items], origin, unit)
        counts = list(range(1, len(xs) + 1))
        # From zero at the account's first start, held to the batch's last event, so an account
        # with one download draws a step too.
        line = top.step([xs[0], *xs, end], [0, *counts, counts[-1]], where="post", marker="o", ms=3,
                        markevery=list(range(1, len(xs) + 1)), label=account)  # fmt: skip
        _mark(line)
        if warm_count and len(xs) > 1:
            warm_until = max(warm_until, xs[min(warm_count, len(xs) - 1)])
        gaps = [(x, d.gap) for x, d in zip(xs, items, strict=True) if d.gap is not None]
        _mark(bottom.plot([x for x, _ in gaps], [g for _, g in gaps], "o", ms=3, label=account))
    low, high = data.delay
    bottom.axhspan(low, high, color="tab:green", alpha=0.12, label=f"configured gap {low:g}-{high:g} s")
    if warm_until > 0:
        # An account's first downloads are paced by the warm-up range: its own band, over their time.
        label = f"warm-up gap {warm_low:g}-{warm_high:g} s (first {warm_count} of each account)"
        bottom.fill_between([0.0, warm_until], warm_low, warm_high, color="tab:purple", alpha=0.12, lw=0, label=label)
    _shade_idle((top, bottom), data, origin, unit)
    top.set_ylabel("downloads started")
    top.set_ylim(bottom=0)
    _integer_y(top)
    bottom.set_ylabel("pacing gap (s)")
    bottom.set_ylim(bottom=0)
    _time_label(bottom, unit)
    if by_account:
        top.legend(loc="upper left")
        bottom.legend(loc="upper right", fontsize=7)
    else:
        _empty(top, "no download yet")
    return fig


def _buffer(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 3))
    events = sorted([(t, 1) for t in data.downloaded_at.values()] + [(t, -1) for t in data.mined_at.values()])
    size, xs, ys = 0, [], []
    for t, step in events:
        size += step
        xs.append((t - origin) / _UNIT[unit])
        ys.append(size)
    if xs:
        _mark(ax.step(xs, ys, where="post", color="tab:blue", label="buffer"))
    else:
        _empty(ax, "no download yet")
    for value, label, color in zip(data.buffer_limits, ("min", "target", "max"), ("tab:green", "tab:orange", "tab:red"),
                                   strict=True):  # fmt: skip
        ax.axhline(value, color=color, ls="--", lw=1, label=f"{label} {value}")
    _shade_idle((ax,), data, origin, unit)
    _time_label(ax, unit)
    ax.set_ylabel("videos")
    ax.set_ylim(bottom=0)
    _integer_y(ax)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def _throughput(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 3))
    drawn = False
    end = _since([_end(data)], origin, unit)[0]
    for stage, times in data.finished.items():
        if times:
            xs = _since(sorted(times), origin, unit)
            # From zero at the stage's first finish, held to the batch's last event: a stage with
            # one finished video draws a step, not a lone point.
            counts = list(range(1, len(xs) + 1))
            _mark(ax.step([xs[0], *xs, end], [0, *counts, counts[-1]], where="post", label=stage))
            drawn = True
    _shade_idle((ax,), data, origin, unit)
    if drawn:
        ax.legend(loc="upper left")
    else:
        _empty(ax, "no stage finished yet")
    _time_label(ax, unit)
    ax.set_ylabel("videos finished")
    ax.set_ylim(bottom=0)
    _integer_y(ax)
    return fig


def _durations(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 3))
    stages = [s for s, values in data.durations.items() if values]
    if stages:
        boxes = ax.boxplot([data.durations[s] for s in stages], tick_labels=stages, vert=False)
        _mark(boxes["boxes"] + boxes["medians"])
        ax.set_xlabel("seconds per video")
    else:
        _empty(ax, "no benchmark yet")
    return fig


def _tiers(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 2.6))
    extra = [n for n in ("reject", "merge", "unrated", "unevaluated") if data.tiers.get(n)]
    names = ["A", "B", "C", "D", *extra, *sorted(set(data.tiers) - {"A", "B", "C", "D", *extra})]
    if sum(data.tiers.values()):
        values = [data.tiers.get(n, 0) for n in names]
        bars = ax.bar(names, values, color=["tab:blue" if n in "ABCD" else "0.6" for n in names])
        ax.bar_label(bars, labels=[f"{v:,}" for v in values])
        _mark(list(bars))
        ax.set_ylabel("claims")
        ax.set_ylim(0, max(values) * 1.25 or 1)  # room for the labels above the bars
        _integer_y(ax)
    else:
        _empty(ax, "no claim stored yet")
    return fig


def _tokens(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 3))
    points = [(float(r["duration"]) / 60, int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0))
              for r in data.rows if r.get("duration") and r.get("status") in ("ok", "partial")]  # fmt: skip
    totals = summary.totals(data.rows)
    if points:
        _mark(ax.scatter([p[0] for p in points], [p[1] for p in points], s=14))
        ax.set_title(f"{totals['tokens_per_audio_hour'] or 0:,} tokens per audio hour, "
                     f"{_cost_per_hour(totals, data.context)}", fontsize=9)  # fmt: skip
        ax.set_xlabel("audio (minutes)")
        ax.set_ylabel("tokens (prompt + completion)")
        ax.yaxis.set_major_formatter("{x:,.0f}")
    else:
        _empty(ax, "no video mined yet")
    return fig


def _cost(totals: dict[str, Any], context: Context | None) -> str:
    if context is not None and context.local_model and not totals["cost_usd"]:
        return "no cost (the local model)"
    return "unknown (no price for the model)" if totals["cost_usd"] is None else f"${totals['cost_usd']:,.4f}"


def _cost_per_hour(totals: dict[str, Any], context: Context | None) -> str:
    hours = totals["audio_hours"] or 0
    if context is not None and context.local_model and not totals["cost_usd"]:
        return "no cost (the local model)"
    if totals["cost_usd"] is None or not hours:
        return "cost unknown (no price for the model)"
    return f"${totals['cost_usd'] / hours:,.4f} per audio hour"


# -- the HTML ---------------------------------------------------------------------------------------
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
.gist{margin:.4em 0 .2em;max-width:60em}.points{margin:.2em 0 .6em;color:#333}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#555;margin-top:0}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;
padding:.2em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555}.tier{font-weight:bold}
details{margin:.3em 0}summary{cursor:pointer}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: Any) -> str:
    """A count with thousands separators."""
    return f"{int(value or 0):,}"


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer">{_e(url)}</a>'
    return _e(url)


def _moment(claim: query.ClaimRow | query.ClusterMember) -> str:
    """Where to hear the claim, as a link: YouTube at the second, a local file at the moment."""
    href = claim.href
    if href is None:
        return _e(claim.link)
    text = claim.link
    if href.startswith("file://"):
        text = f"{Path(claim.link.rsplit(' at ', 1)[0]).name} at {claim.link.rsplit(' at ', 1)[-1]}"
    return f'<a href="{_e(href)}" rel="noreferrer">{_e(text)}</a>'


def _inline(svg: str, prefix: str) -> str:
    """An SVG ready to sit beside others in one page: no XML prolog, and its ids (and the
    references to them) prefixed, since matplotlib numbers every figure's ids alike."""
    svg = svg[svg.index("<svg") :]
    for before, after in (('id="', f'id="{prefix}-'), ('href="#', f'href="#{prefix}-'), ("url(#", f"url(#{prefix}-")):
        svg = svg.replace(before, after)
    return svg


def _outcome(status: Any) -> str:
    return str(status).split(":", 1)[0]


def _header(data: ReportData) -> str:
    """When the report was made, from which results and config, and where the batch stands."""
    context = data.context
    if context is None:
        return ""
    now = context.generated_at
    items = [f"generated {dt.datetime.fromtimestamp(now).strftime('%Y-%m-%d %H:%M:%S')}",
             f"results <code>{_e(context.results)}</code>"]  # fmt: skip
    if context.config_files:
        items.append("config " + ", ".join(f"<code>{_e(f)}</code>" for f in context.config_files))
    status = context.status
    if status is not None:
        if status.snakemake_running is False:
            state = "the batch is not running"
            if (run := status.last_run) is not None:
                state += f"; its last run ended {_e(clock(run.ended, now))}, after {duration(run.seconds)}"
        elif status.eta_seconds == 0:
            # Made by the run's own last rule: everything is done but the run has not ended.
            state = "every video is done; the run is finishing"
        else:
            state = f"the batch is running; ETA {_e(eta(status.eta_seconds))}"
            if status.bound_by:
                state += f", bound by {_e(status.bound_by)}"
        items.append(state)
    return f"<p class=meta>{' · '.join(items)}</p>"


def _roads(rows: list[dict[str, Any]]) -> str:
    """Which road the stored videos' transcripts took (docs/downloads.md: 'Two roads')."""
    made = Counter(str(r["transcript"]) for r in rows if r.get("transcript"))
    if not made:
        return ""
    order = sorted(made, key=lambda source: (not source.endswith("captions"), source))
    return ("<p id=roads>Transcripts from: " + ", ".join(f"{_e(source)} {_n(made[source])}" for source in order)
            + ".</p>")  # fmt: skip


def _gates(gates: list[dict[str, Any]]) -> list[str]:
    """The automatic captions gate (captions.automatic: gated): per channel, its decision and the
    sample it was measured on (each video's automatic captions against Whisper, as WER)."""
    if not gates:
        return []
    parts = ["<h2>Automatic captions gate</h2><table id=gates><tr><th>channel</th><th>decision</th>"
             "<th>median WER</th><th>accepted up to</th><th>sample (WER per video)</th></tr>"]  # fmt: skip
    for g in gates:
        sample = ", ".join(f"{_e(vid)} {m['wer']:.3f}" if m else f"{_e(vid)} not measured yet"
                           for vid, m in sorted(g["sample"].items()))  # fmt: skip
        figures = [f"{g[k]:.3f}" if g[k] is not None else "" for k in ("median_wer", "max_wer")]
        parts.append(f"<tr><td>{_e(g['channel'])}</td><td>{_e(g['decision'])}</td><td class=num>{figures[0]}</td>"
                     f"<td class=num>{figures[1]}</td><td>{sample}</td></tr>")  # fmt: skip
    parts.append("</table>")
    return parts


def render_html(data: ReportData, svgs: dict[str, str], title: str = "claimflow batch report") -> str:
    totals = summary.totals(data.rows)
    outcomes = Counter(_outcome(r.get("status")) for r in data.rows)
    columns = [o for o in OUTCOME_ORDER if o in outcomes or o in ("ok", "failed", "unavailable")]
    columns += sorted(set(outcomes) - set(columns))
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        _header(data),
        "<table id=outcomes><tr><th>videos</th>"
        + "".join(f"<th>{_e(o.replace('_', ' '))}</th>" for o in columns) + "</tr>",
        f"<tr><td class=num>{_n(len(data.rows))}</td>"
        + "".join(f"<td class=num>{_n(outcomes[o])}</td>" for o in columns) + "</tr></table>",
        f"<p>{totals['audio_hours']:,.2f} audio hours; {_n(totals['prompt_tokens'] + totals['completion_tokens'])} "
        f"LLM tokens in {_n(totals['llm_requests'])} requests ({_n(totals['llm_cached'])} from cache); "
        f"{_cost(totals, data.context)}.</p>",
        _roads(data.rows),
    ]  # fmt: skip
    for name, figure_title in FIGURES.items():
        svg = _inline(svgs[name], name)
        parts.append(f'<h2>{_e(figure_title)}</h2><figure id="fig-{name}">{svg}<figcaption>{_e(caption(name))}'
                     "</figcaption></figure>")  # fmt: skip
    if data.collections:
        parts.append("<h2>Collections</h2><table id=collections><tr><th>collection</th><th>title</th><th>listed</th>"
                     "<th>no longer listed</th><th>kept by the filters</th><th>stored</th>"
                     "<th>accepted claims</th></tr>")  # fmt: skip
        for c in data.collections:
            keys = ("listed", "no_longer_listed", "kept", "stored", "accepted_claims")
            counts = "".join(f"<td class=num>{_n(c[key])}</td>" for key in keys)
            parts.append(f"<tr><td>{_e(c['cid'])}</td><td>{_e(c['title'])}</td>{counts}</tr>")
        parts.append("</table>")
    parts += _gates(data.gates)
    parts += _clusters(data)
    parts += _contested(data)
    parts += _entries(data)
    parts += _top_claims(data)
    parts += _problems(data)
    parts.append("</body></html>\n")
    return "".join(parts)


def _clusters(data: ReportData) -> list[str]:
    """The batch's view: the claims made in the most videos, each with its best wording and where
    it was said (bounded: the database and `claimflow clusters` hold them all)."""
    if not data.clusters:
        return []
    parts = [f"<h2>Claims made in several videos</h2><p>The {len(data.clusters)} claims said in the most videos "
             "(linked by meaning across the batch), the most videos first, each in its best-scored wording; "
             "`claimflow clusters` lists them all.</p><table id=clusters><tr><th>videos</th><th>channels</th>"
             "<th>first</th><th>last</th><th>claim</th><th>where it was said</th></tr>"]  # fmt: skip
    for c in data.clusters:
        shown = c.members[:CLUSTER_MEMBERS]
        where = "<br>".join(f"{_e(m.title or m.vid)}: {_moment(m)}" for m in shown)
        if len(c.members) > len(shown):
            where += f"<br>and {_n(len(c.members) - len(shown))} more"
        parts.append(f"<tr><td class=num>{_n(c.videos)}</td><td class=num>{_n(c.channels)}</td>"
                     f"<td>{_e(c.first or '')}</td><td>{_e(c.last or '')}</td><td>{_e(c.canonical)}</td>"
                     f"<td>{where}</td></tr>")  # fmt: skip
    parts.append("</table>")
    return parts


def _contested(data: ReportData) -> list[str]:
    """Where two videos disagree: each pair the LLM judged contradicting, both sides' quotes."""
    if not data.contested:
        return []
    parts = ["<h2>Contested claims</h2><p>Claims of two videos judged to contradict each other (by the LLM, or "
             "a claim and its negation by rule), the "
             "most alike first; `claimflow contested` lists them all.</p><table id=contested><tr><th>one video says"
             "</th><th>another says</th><th>why they contradict</th></tr>"]  # fmt: skip
    for pair in data.contested:
        cells = "".join(f"<td>{_e(side.claim_text)}<br><q>{_e(side.quote or '')}</q><br>{_e(side.title or side.vid)}: "
                        f"{_moment(side)}</td>" for side in (pair.first, pair.second))  # fmt: skip
        parts.append(f"<tr>{cells}<td>{_e(pair.reason or '')}</td></tr>")
    parts.append("</table>")
    return parts


def _entries(data: ReportData) -> list[str]:
    """The people and the terms discussed in the most videos (each spelling joined)."""
    if not data.people and not data.terms:
        return []
    parts = ["<h2>People and terms across the batch</h2>"]
    if data.catalogue_note:
        parts.append(f"<p class=note>Your corrections are not applied: {_e(data.catalogue_note)}</p>")
    for kind, rows, head in (("people", data.people, "a claim naming them"), ("terms", data.terms, "definition")):
        if not rows:
            continue
        parts.append(f"<table id={kind}><tr><th>{kind[:-1] if kind == 'terms' else 'person'}</th><th>videos</th>"
                     f"<th>mentions</th><th>also written</th><th>{'role' if kind == 'people' else head}</th>"
                     + ("<th>a claim naming them</th>" if kind == "people" else "") + "</tr>")  # fmt: skip
        for row in rows:
            others = ", ".join(a for a in row.aliases if a != row.name)
            claim = ""
            if kind == "people":
                claim = (
                    f"<td>{_e(row.claims[0].claim_text)} {_moment(row.claims[0])}</td>" if row.claims else "<td></td>"
                )
            parts.append(f"<tr><td>{_e(row.name)}</td><td class=num>{_n(len(row.vids))}</td>"
                         f"<td class=num>{_n(row.mentions)}</td><td>{_e(others)}</td><td>{_e(row.detail or '')}</td>"
                         f"{claim}</tr>")  # fmt: skip
        parts.append("</table>")
    return parts


def _top_claims(data: ReportData) -> list[str]:
    shown = list(data.top_claims.items())[:TOP_VIDEOS]
    rest = len(data.top_claims) - len(shown)
    parts = ["<h2>Top claims per video</h2>"]
    if not shown:
        return [*parts, "<p>No accepted claim stored yet.</p>"]
    parts.append(f"<p>The {len(shown)} videos with the best accepted claims, best first, each with its top "
                 f"{TOP_CLAIMS}" + (f"; {_n(rest)} more videos have accepted claims: `claimflow search`, "
                 "`claimflow export` or the database hold them all" if rest else "") + ".</p>")  # fmt: skip
    titles = {r["vid"]: r.get("title") for r in data.rows}
    for vid, claims in shown:
        best = max((c.score or 0.0) for c in claims)
        parts.append(f"<details><summary>{_e(titles.get(vid) or vid)} <small>({_e(vid)}; best "
                     f"{_e(claims[0].tier)} {best:.2f})</small></summary>")  # fmt: skip
        if vid in data.summaries:
            gist = data.summaries[vid]
            parts.append(f"<p class=gist>{_e(gist.summary)}</p>")
            if gist.key_points:
                parts.append("<ul class=points>" + "".join(f"<li>{_e(p)}</li>" for p in gist.key_points) + "</ul>")
        parts.append("<table><tr><th>tier</th><th>score</th><th>claim</th><th>quote</th><th>moment</th></tr>")
        for c in claims:
            score = "" if c.score is None else f"{c.score:.2f}"
            parts.append(f"<tr><td class=tier>{_e(c.tier)}</td><td class=num>{score}</td><td>{_e(c.claim_text)}</td>"
                         f"<td>{_e(c.quote)}</td><td>{_moment(c)}</td></tr>")  # fmt: skip
        parts.append("</table></details>")
    return parts


def _problems(data: ReportData) -> list[str]:
    """The videos a reader must act on, one by one (bounded); pending ones counted by stage."""
    parts = ["<h2>Unavailable, failed, partial, interrupted, budget-stopped and pending videos</h2>"]
    problems = [r for r in data.rows if _outcome(r.get("status")) in ("unavailable", "failed", "partial",
                                                                       "interrupted", "budget")]  # fmt: skip
    statuses = [str(r.get("status")) for r in data.rows]
    pending = Counter(status.split(":", 1)[1] for status in statuses if status.startswith("pending:"))
    if not problems and not pending:
        return [*parts, "<p id=problems>None: every video is ok or has no speech.</p>"]
    if problems:
        parts.append("<table id=problems><tr><th>video</th><th>status</th><th>class</th><th>reason</th></tr>")
        for r in problems[:PROBLEM_ROWS]:
            parts.append(f"<tr><td>{_e(r['vid'])}</td><td>{_e(r.get('status'))}</td><td>{_e(r.get('reason_class'))}</td>"
                         f"<td>{_e(r.get('reason'))}</td></tr>")  # fmt: skip
        parts.append("</table>")
        if len(problems) > PROBLEM_ROWS:
            parts.append(f"<p>... and {_n(len(problems) - PROBLEM_ROWS)} more: results/summary.tsv lists every video "
                         "with its reason.</p>")  # fmt: skip
    if pending:
        where = ", ".join(f"{_n(n)} at {_e(stage)}" for stage, n in sorted(pending.items(), key=lambda kv: -kv[1]))
        parts.append(f"<p id=pending>Pending (not reached yet, or outside this run's target): {where}.</p>")
    return parts


def context_for(config: dict[str, Any], results: str | Path, workdir: Path | None = None,
                config_files: list[str] | tuple[str, ...] = ()) -> Context:  # fmt: skip
    """The header's facts, from the config, the folder and its runs."""

    workdir = workdir or Path.cwd()
    try:
        state = cf_status.collect(config, workdir=workdir)
    except Exception:  # the report matters more than its header's ETA
        state = None
    root = str(Path(layout.Results.of(results).root).resolve())
    return Context(time.time(), root, tuple(str(f) for f in config_files), config["llm"]["provider"] == "local",
                   state, tuple(cf_status.runs(workdir)))  # fmt: skip


def older_than_knowledge(results: str | Path | layout.Results, vids: list[str]) -> bool:
    """Whether a link or judge job finished after the report was built (the report rule waits
    for the stores only: a video's linking may end after it). One stat per video and marker."""
    results = layout.Results.of(results)
    try:
        built = os.stat(results.report).st_mtime
    except FileNotFoundError:
        return False  # no report yet: the report rule makes it
    for vid in vids:
        for name in (layout.LINKED, layout.JUDGED):
            try:
                if os.stat(results.video(vid, name)).st_mtime > built:
                    return True
            except FileNotFoundError:
                continue
    return False


def build(config: dict[str, Any], vids: list[str], results: str | Path, out: str | Path,
          figure_dir: str | Path | None = None, config_files: tuple[str, ...] = ()) -> ReportData:  # fmt: skip
    """Write the HTML report (and, with `figure_dir`, each figure as an SVG file)."""

    pacing = Settings.from_config(config).pacing
    corrections = (config.get("catalogue") or {}).get("corrections")
    data = gather(pacing, vids, results, context_for(config, results, config_files=config_files), corrections)
    svgs = figure_svgs(data)
    if figure_dir is not None:
        os.makedirs(figure_dir, exist_ok=True)
        for name, svg in svgs.items():
            atomic.write_text(Path(figure_dir) / f"{name}.svg", svg)
    atomic.write_text(out, render_html(data, svgs))
    return data

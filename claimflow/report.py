"""The batch report: one self-contained HTML file (figures inlined as SVG, no script, nothing
fetched at view time), built from whatever exists, so it can be made at any moment of a batch.

Figures come from matplotlib; each is also written as its own SVG for Snakemake's report
(`snakemake --report`). Every string from the outside world (titles, reasons, claims, URLs) is
escaped, and only http(s) links become anchors.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow import atomic, query, summary
from claimflow.settings import Pacing
from claimflow.status import OUTPUTS

# Titles here; the captions are the workflow's report/<name>.rst, shared with Snakemake's report.
FIGURES = {
    "downloads": "Downloads over time per account, and the pacing gap before each",
    "buffer": "Download buffer: videos downloaded but not yet mined",
    "throughput": "Stage throughput: videos finished over time",
    "durations": "Stage durations per video",
    "tiers": "Claims by evaluation outcome and tier",
    "tokens": "LLM tokens per video against its audio length",
}
CAPTIONS = Path(__file__).resolve().parent.parent / "report"


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


def gather(pacing: Pacing, vids: list[str], results: str | Path, top: int = 3) -> ReportData:
    results = Path(results)
    database = results / "claimflow.sqlite"
    rows = summary.rows(database, vids, results)
    downloads, downloaded_at, mined_at = [], {}, {}
    finished: dict[str, list[float]] = {stage: [] for stage in OUTPUTS}
    durations: dict[str, list[float]] = {stage: [] for stage in OUTPUTS}
    for vid in vids:
        folder = results / vid
        for stage, name in OUTPUTS.items():
            try:
                finished[stage].append((folder / name).stat().st_mtime)
            except OSError:
                continue
            seconds = atomic.benchmark_seconds(results / "benchmarks" / stage / f"{vid}.tsv")
            if seconds is not None:
                durations[stage].append(seconds)
        manifest = atomic.read_json_or_empty(folder / "download.json")
        timings = manifest.get("timings") or {}
        job = manifest.get("job") or {}
        if timings.get("started"):
            downloads.append(Download(vid, manifest.get("account"), str(manifest.get("status")),
                                      float(timings["started"]), timings.get("gap")))  # fmt: skip
        if manifest:
            downloaded_at[vid] = float(job.get("finished") or (folder / "download.json").stat().st_mtime)
            with contextlib.suppress(OSError):
                mined_at[vid] = (folder / "claims.json").stat().st_mtime
    tiers: Counter[str] = Counter()
    top_claims: dict[str, list[query.ClaimRow]] = {}
    if database.is_file():
        for claim in query.claims(database):
            tiers[claim.tier if claim.decision == "accept" and claim.tier else (claim.decision or "unevaluated")] += 1
            if claim.decision == "accept" and len(top_claims.setdefault(claim.vid, [])) < top:
                top_claims[claim.vid].append(claim)
    buffer = pacing.buffer
    return ReportData(rows, sorted(downloads, key=lambda d: d.started), finished, mined_at, downloaded_at,
                      durations, tiers, top_claims, pacing.delay,
                      (buffer.min, buffer.target, buffer.max), collections_of(database))  # fmt: skip


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


def collections_of(database: Path) -> list[dict[str, Any]]:
    """Per collection (channel, playlist, feed) of the database: its listing and what of it is stored."""
    if not database.is_file():
        return []
    conn = query.connect(database)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'collections'").fetchone():
            return []
        keys = ("cid", "title", "kind", "url", "listed", "no_longer_listed", "kept", "stored", "accepted_claims")
        return [dict(zip(keys, row, strict=True)) for row in conn.execute(_COLLECTIONS)]
    finally:
        conn.close()


# -- figures ----------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _origin(data: ReportData) -> float:
    times = [d.started for d in data.downloads] + [t for ts in data.finished.values() for t in ts]
    return min(times) if times else 0.0


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
    end = _since([max(d.started for d in data.downloads)], origin, unit)[0] if data.downloads else 0.0
    for account, items in sorted(by_account.items()):
        xs = _since([d.started for d in items], origin, unit)
        counts = list(range(1, len(xs) + 1))
        # Held to the last download of any account, so an account with one download shows too.
        line = top.step([*xs, end], [*counts, counts[-1]], where="post", marker="o", ms=3,
                        markevery=list(range(len(xs))), label=account)  # fmt: skip
        _mark(line)
        gaps = [(x, d.gap) for x, d in zip(xs, items, strict=True) if d.gap is not None]
        _mark(bottom.plot([x for x, _ in gaps], [g for _, g in gaps], "o", ms=3, label=account))
    low, high = data.delay
    bottom.axhspan(low, high, color="tab:green", alpha=0.12, label=f"configured gap {low:g}-{high:g} s")
    top.set_ylabel("downloads started")
    _integer_y(top)
    bottom.set_ylabel("pacing gap (s)")
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
    _time_label(ax, unit)
    ax.set_ylabel("videos")
    _integer_y(ax)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def _throughput(plt, data: ReportData, origin: float, unit: str):
    fig, ax = plt.subplots(figsize=(8, 3))
    drawn = False
    for stage, times in data.finished.items():
        if times:
            xs = _since(sorted(times), origin, unit)
            _mark(ax.step(xs, range(1, len(xs) + 1), where="post", label=stage))
            drawn = True
    if drawn:
        ax.legend(loc="upper left")
    else:
        _empty(ax, "no stage finished yet")
    _time_label(ax, unit)
    ax.set_ylabel("videos finished")
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
    order = ["A", "B", "C", "D", "reject", "merge", "unevaluated"]
    names = [n for n in order if data.tiers.get(n)] + sorted(set(data.tiers) - set(order))
    if names:
        values = [data.tiers[n] for n in names]
        bars = ax.bar(names, values, color=["tab:blue" if n in "ABCD" else "0.6" for n in names])
        ax.bar_label(bars)
        _mark(list(bars))
        ax.set_ylabel("claims")
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
        cost = totals["cost_usd"]
        hours = totals["audio_hours"] or 0
        per_hour = f"${cost / hours:.4f}" if cost is not None and hours else "unknown"
        ax.set_title(f"{totals['tokens_per_audio_hour']} tokens and {per_hour} per audio hour", fontsize=9)
        ax.set_xlabel("audio (minutes)")
        ax.set_ylabel("tokens (prompt + completion)")
    else:
        _empty(ax, "no video mined yet")
    return fig


# -- the HTML ---------------------------------------------------------------------------------------
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.num{text-align:right}figure{margin:1em 0}figure svg{max-width:100%;
height:auto}figcaption{color:#555}.tier{font-weight:bold}details{margin:.3em 0}summary{cursor:pointer}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer">{_e(url)}</a>'
    return _e(url)


def _inline(svg: str, prefix: str) -> str:
    """An SVG ready to sit beside others in one page: no XML prolog, and its ids (and the
    references to them) prefixed, since matplotlib numbers every figure's ids alike."""
    svg = svg[svg.index("<svg") :]
    for before, after in (('id="', f'id="{prefix}-'), ('href="#', f'href="#{prefix}-'), ("url(#", f"url(#{prefix}-")):
        svg = svg.replace(before, after)
    return svg


def render_html(data: ReportData, svgs: dict[str, str], title: str = "claimflow batch report") -> str:
    totals = summary.totals(data.rows)
    statuses = Counter(str(r.get("status")) for r in data.rows)
    cost = "unknown" if totals["cost_usd"] is None else f"${totals['cost_usd']:.4f}"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        "<table><tr><th>videos</th>" + "".join(f"<th>{_e(s)}</th>" for s in sorted(statuses)) + "</tr>",
        f"<tr><td class=num>{len(data.rows)}</td>"
        + "".join(f"<td class=num>{statuses[s]}</td>" for s in sorted(statuses))
        + "</tr></table>",
        f"<p>{totals['audio_hours']:.2f} audio hours; {totals['prompt_tokens'] + totals['completion_tokens']} LLM "
        f"tokens in {totals['llm_requests']} requests ({totals['llm_cached']} from cache); cost {cost}.</p>",
    ]
    for name, title in FIGURES.items():
        svg = _inline(svgs[name], name)
        parts.append(f'<h2>{_e(title)}</h2><figure id="fig-{name}">{svg}<figcaption>{_e(caption(name))}'
                     "</figcaption></figure>")  # fmt: skip
    if data.collections:
        parts.append("<h2>Collections</h2><table id=collections><tr><th>collection</th><th>title</th><th>listed</th>"
                     "<th>no longer listed</th><th>kept by the filters</th><th>stored</th>"
                     "<th>accepted claims</th></tr>")  # fmt: skip
        for c in data.collections:
            parts.append(f"<tr><td>{_e(c['cid'])}</td><td>{_e(c['title'])}</td><td class=num>{c['listed']}</td>"
                         f"<td class=num>{c['no_longer_listed']}</td><td class=num>{c['kept']}</td>"
                         f"<td class=num>{c['stored']}</td><td class=num>{c['accepted_claims']}</td></tr>")  # fmt: skip
        parts.append("</table>")
    parts.append("<h2>Top claims per video</h2>")
    titles = {r["vid"]: r.get("title") for r in data.rows}
    if not data.top_claims:
        parts.append("<p>No accepted claim stored yet.</p>")
    for vid, claims in data.top_claims.items():
        parts.append(f"<details open><summary>{_e(titles.get(vid) or vid)} <small>({_e(vid)})</small></summary>")
        parts.append("<table><tr><th>tier</th><th>score</th><th>claim</th><th>quote</th><th>moment</th></tr>")
        for c in claims:
            score = "" if c.score is None else f"{c.score:.2f}"
            parts.append(f"<tr><td class=tier>{_e(c.tier)}</td><td class=num>{score}</td><td>{_e(c.claim_text)}</td>"
                         f"<td>{_e(c.quote)}</td><td>{_link(c.link)}</td></tr>")  # fmt: skip
        parts.append("</table></details>")
    problems = [r for r in data.rows if str(r.get("status")) not in ("ok", "no_speech")]
    parts.append("<h2>Unavailable, failed, partial and pending videos</h2>")
    if problems:
        parts.append("<table id=problems><tr><th>video</th><th>status</th><th>class</th><th>reason</th></tr>")
        for r in problems:
            parts.append(f"<tr><td>{_e(r['vid'])}</td><td>{_e(r.get('status'))}</td><td>{_e(r.get('reason_class'))}</td>"
                         f"<td>{_e(r.get('reason'))}</td></tr>")  # fmt: skip
        parts.append("</table>")
    else:
        parts.append("<p id=problems>None: every video is ok or has no speech.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def build(pacing: Pacing, vids: list[str], results: str | Path, out: str | Path,
          figure_dir: str | Path | None = None) -> ReportData:  # fmt: skip
    """Write the HTML report (and, with `figure_dir`, each figure as an SVG file)."""
    data = gather(pacing, vids, results)
    svgs = figure_svgs(data)
    if figure_dir is not None:
        os.makedirs(figure_dir, exist_ok=True)
        for name, svg in svgs.items():
            atomic.write_text(Path(figure_dir) / f"{name}.svg", svg)
    atomic.write_text(out, render_html(data, svgs))
    return data

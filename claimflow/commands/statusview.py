"""`claimflow status` on a terminal: the Status as rich tables (plain text when piped)."""

from __future__ import annotations

import datetime as dt

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from claimflow.commands.status import STAGES, Status


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def clock(timestamp: float | None, now: float, upcoming: bool = False) -> str:
    """A time and how far from now. `upcoming`: a time something may happen at (a next start),
    which once passed is simply now."""
    if not timestamp:
        return "-"
    if upcoming and timestamp <= now:
        return "now"
    fmt = "%H:%M:%S" if abs(timestamp - now) < 43200 else "%Y-%m-%d %H:%M"
    when = dt.datetime.fromtimestamp(timestamp).strftime(fmt)
    delta = timestamp - now
    relative = f"in {duration(delta)}" if delta > 0 else f"{duration(-delta)} ago"
    return f"{when} ({relative})"


def eta(seconds: float | None) -> str:
    return "done" if seconds == 0 else duration(seconds)


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(status: Status, plain: bool = False) -> Group:
    now = status.generated_at
    style = box.ASCII if plain else box.SIMPLE_HEAVY
    when = dt.datetime.fromtimestamp(now).strftime("%H:%M:%S")
    if status.snakemake_running is False:
        run = status.last_run
        line = "snakemake: not running"
        if run is not None:
            line += (f" | last run {clock(run.started, now).split(' (')[0]} to {clock(run.ended, now)}, "
                     f"ran {duration(run.seconds)}")  # fmt: skip
    else:
        running = "running" if status.snakemake_running else "unknown"
        until = eta(status.eta_seconds)
        if status.bound_by:
            until += f", bound by {status.bound_by}"
        line = f"snakemake: {running} | elapsed: {duration(status.elapsed_seconds)} | ETA: {until}"
    header = Text(f"claimflow batch: {status.videos} videos in {status.results} (as of {when})\n{line}")

    stages = Table(title="stages", box=style, title_justify="left")
    for column in ("stage", "done", "running", "waiting", "failed", "interrupted", "unavailable",
                   "last hour", "per hour", "ETA"):  # fmt: skip
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for name in STAGES:
        s = status.stages[name]
        stages.add_row(name, str(s.done), str(s.running), str(s.waiting), str(s.failed), str(s.interrupted),
                       str(s.unavailable), str(s.last_hour), rate(s.per_hour),
                       eta(s.eta_seconds) if status.snakemake_running is not False else "-")  # fmt: skip

    accounts = Table(title="accounts", box=style, title_justify="left")
    for column in ("account", "status", "last start", "next start", "multiplier", "downloads", "failures"):
        accounts.add_column(column)
    for a in status.accounts:
        state = a.status
        if a.status == "paused":
            state += f" until {clock(a.paused_until, now)}"
        elif a.status == "disabled":
            state += f": {a.reason}"
        accounts.add_row(a.name, state, clock(a.last_start, now), clock(a.next_start, now, upcoming=True),
                         f"x{a.multiplier:.2f}",
                         str(a.downloads), str(a.failures))  # fmt: skip

    b = status.buffer
    llm = status.llm
    cost = "unknown (no price for this model)" if llm.cost_usd is None else f"${llm.cost_usd:.4f}"
    footer = Text(
        f"buffer: {b.size} downloaded, not yet transcribed (min {b.min}, target {b.target}, max {b.max})\n"
        f"audio: {status.audio_hours:.2f} h transcribed, {rate(status.audio_hours_per_hour)} h/h overall, "
        f"{status.audio_hours_last_hour:.2f} h in the last hour\n"
        f"LLM: {llm.prompt_tokens + llm.completion_tokens} tokens ({llm.prompt_tokens} prompt, "
        f"{llm.completion_tokens} completion), {llm.requests} requests, {llm.cached} from cache, cost {cost}"
    )
    if status.budget is not None:
        footer.append("\n" + "\n".join(budget_lines(status)))
    if status.outcomes:
        footer.append(
            "\noutcomes: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(status.outcomes.items()))
        )
    if status.captions_asked or status.roads.get("captions"):
        taken = ", ".join(f"{n} {road}" for road, n in status.roads.items()) or "none downloaded yet"
        footer.append(f"\nroads: {taken}; the captions pass asked about {status.captions_asked} of {status.videos}")
    if status.linked:
        stored = sum(status.outcomes.values())
        footer.append(f"\nlinked across the batch: {status.linked} of {stored} stored videos (claimflow clusters)")
    if status.summarized:
        footer.append(f"\nsummarized: {status.summarized} of {status.videos} videos (claimflow search --summaries)")
    if status.collections:
        footer.append("\ncollections:\n" + "\n".join(f"  {line}" for line in status.collections))
    if status.gates:
        footer.append("\nautomatic captions gate:\n" + "\n".join(f"  {line}" for line in status.gates))
    parts = [header, stages, accounts, footer]
    if status.failed_videos:
        failed = Text("failed (a plain rerun retries them):\n" + "\n".join(
            f"  {f['vid']} at {f['stage']}: {f['log']}" for f in status.failed_videos[:20]))  # fmt: skip
        if len(status.failed_videos) > 20:
            failed.append(f"\n  ... and {len(status.failed_videos) - 20} more")
        parts.append(failed)
    return Group(*parts)


def budget_lines(status: Status) -> list[str]:
    """The spend against llm.budget, the batch's projected, and the stop once it was reached."""
    budget = status.budget
    capped = budget.cap_usd is not None or budget.cap_tokens is not None
    lines = [f"LLM spend: {budget.spent}" + ("" if capped else " (no llm.budget)")]
    if budget.projected:
        lines.append(f"  projected: {budget.projected}")
    stopped = {stage: counts.budget for stage, counts in status.stages.items() if counts.budget}
    if budget.reached or stopped:
        where = ", ".join(f"at {stage}: {n}" for stage, n in stopped.items())
        lines.append("  budget reached" + (f" ({where})" if where else "") + ": no new LLM request starts; raise "
                     "llm.budget and run the same command again")  # fmt: skip
    return lines


def digest(status: Status) -> str:
    """The batch in a few plain lines, for an alert (claimflow/core/notify.py): the progress of
    each stage, the ETA, the spend and any account that is not active."""
    lines = [f"{status.videos} videos in {status.results}"]
    for stage in STAGES:
        counts = status.stages[stage]
        extra = [f"{n} {what}" for n, what in ((counts.running, "running"), (counts.failed, "failed"),
                                               (counts.unavailable, "unavailable")) if n]  # fmt: skip
        lines.append(f"{stage}: {counts.done} of {status.videos} done" + (f" ({', '.join(extra)})" if extra else ""))
    if status.eta_seconds is not None:
        lines.append(f"ETA {eta(status.eta_seconds)}" + (f" (bound by {status.bound_by})" if status.bound_by else ""))
    llm = status.llm
    cost = "unknown (no price for this model)" if llm.cost_usd is None else f"${llm.cost_usd:.2f}"
    lines.append(f"LLM: {llm.prompt_tokens + llm.completion_tokens} tokens, {llm.requests} requests, spent {cost}")
    if status.budget is not None:
        lines += budget_lines(status)
    for account in status.accounts:
        if account.status != "active":
            lines.append(
                f"account {account.name}: {account.status}" + (f" ({account.reason})" if account.reason else "")
            )
    return "\n".join(lines)

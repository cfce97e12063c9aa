"""`claimflow`: run a batch of videos, watch it, and read what it found.

Every subcommand reads config exactly as the workflow does: the shipped defaults, then each
--configfile in order. Exit status, the same for every subcommand: 0 done; 1 what was asked
about is not fine (videos failed, a check failed, nothing found); 2 bad input (an argument, a
config file, the sources; a second run refused); 3 videos partial (run); 4 LLM budget reached
(run); 130 interrupted (run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from claimflow import __version__
from claimflow.core import config as cf_config
from claimflow.core import layout

EXIT_OK, EXIT_NOT_FINE, EXIT_BAD_INPUT = 0, 1, cf_config.EXIT_BAD_INPUT
TIERS = ("A", "B", "C", "D")


def version_text() -> str:
    """claimflow's version and those of the parts that decide what it produces."""
    parts = []
    for name in ("snakemake", "yt-dlp", "faster-whisper", "llama-cpp-python", "openai"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} not installed")
    return f"claimflow {__version__} ({', '.join(parts)})"


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a share from 0 to 1, e.g. 0.8")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                        help="your config files, over the shipped defaults, in order: the same ones the batch runs "
                        "with (default: the shipped config/config.yaml alone)")  # fmt: skip
    return parser


def _day(text: str) -> str:
    """A date as yt-dlp gives upload dates (YYYYMMDD), from YYYY-MM-DD or YYYYMMDD."""
    import datetime as dt  # what the date options alone need

    for shape in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, shape).strftime("%Y%m%d")
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as 2026-03-31 (or 20260331)")


def _with_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON document, for scripts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # run and refresh take Snakemake's arguments as given: `claimflow run --help` says them.
    sub.add_parser("run", help="run the workflow (snakemake ARGS, one live run per folder, no --unlock after a "
                   "crash); `claimflow run --help` says more")  # fmt: skip
    sub.add_parser("refresh", help="`claimflow run ARGS` that first lists every collection (channel, playlist, "
                   "feed) again; new entries are processed, nothing done is redone")  # fmt: skip

    doctor = _with_config(sub.add_parser("doctor", help="check the setup before a batch: folders, cookie files, the "
                                         "LLM (and its speed here), Whisper, yt-dlp"))  # fmt: skip
    _with_json(doctor, "every check")

    listing = _with_config(sub.add_parser("unavailable", help="videos that ended as unavailable, by reason; --retry "
                                          "sets them up to be downloaded again by the next run"))  # fmt: skip
    listing.add_argument("--retry", nargs="+", metavar="CLASS", default=[],
                         help="reason classes to download again (geo_blocked age_restricted unknown ...), or all; "
                         "the listing shows each video's class (default: retry none)")  # fmt: skip
    _with_json(listing, "the videos by reason (and what --retry set aside)")

    gate = _with_config(sub.add_parser("gate", help="the automatic captions gate (captions.automatic: gated): "
                                       "each channel's decision, figures, sample; --reset judges again"))  # fmt: skip
    gate.add_argument("--reset", metavar="CHANNEL", help="forget CHANNEL's decision and sample, or `all`: its videos "
                      "not downloaded yet are sampled again (default: reset none)")  # fmt: skip
    _with_json(gate, "every channel's gate")

    status = _with_config(sub.add_parser("status", help="where the batch stands: stages, accounts, buffer, "
                                         "rates, ETA, LLM usage (from files alone; safe while it runs)"))  # fmt: skip
    _with_json(status, "the status")
    status.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                        help="redraw every SECONDS (10 when not given) until Ctrl-C (default: print once)")  # fmt: skip

    search = _with_config(sub.add_parser("search", help="full-text search over stored claims and their quotes "
                                         "(or, with --said, over everything said), best first, each with a link to "
                                         "the moment"))  # fmt: skip
    search.add_argument("text", help='words, "a phrase", or FTS5 syntax (AND, OR, NOT, prefix*)')
    search.add_argument("--tier", nargs="+", metavar="TIER", choices=TIERS,
                        help="only accepted claims of these tiers: A B C D (default: every claim)")  # fmt: skip
    search.add_argument("--video", nargs="+", metavar="VID", help="only these video ids (default: every video)")
    search.add_argument("--type", nargs="+", metavar="TYPE", dest="claim_type",
                        help="only these claim types: factual causal normative forecast definition "
                        "(default: every type)")  # fmt: skip
    search.add_argument("--collection", nargs="+", metavar="NAME",
                        help="only videos of these collections, by name (default: every video)")  # fmt: skip
    search.add_argument("--person", metavar="NAME",
                        help="only videos that mention this person, any way the batch writes the name (the catalogue "
                        "of `claimflow people`) (default: every video)")  # fmt: skip
    search.add_argument(
        "--since",
        type=_day,
        metavar="DATE",
        help="only videos uploaded on DATE or later, YYYY-MM-DD or YYYYMMDD (default: any date)",
    )
    search.add_argument(
        "--until", type=_day, metavar="DATE", help="only videos uploaded on DATE or earlier (default: any date)"
    )
    search.add_argument("--said", action="store_true",
                        help="search what was said: every transcript segment, in a claim or not (--tier and --type "
                        "do not apply)")  # fmt: skip
    search.add_argument("--summaries", action="store_true",
                        help="search the videos' summaries and key points (summarize.enabled; --tier and --type do "
                        "not apply)")  # fmt: skip
    search.add_argument("--meaning", action="store_true",
                        help="search by meaning: the accepted claims nearest the text (embedded by the batch's "
                        "link.embedding model, offline), whatever their words; with --said, the transcript segments "
                        "nearest it (the bundled model, offline); FTS5 syntax does not apply")  # fmt: skip
    search.add_argument("--limit", type=_positive, default=20, metavar="N",
                        help="at most N claims or segments (default: 20)")  # fmt: skip
    _with_json(search, "the claims (or segments) found")

    linked = _with_config(sub.add_parser("clusters", help="the claims made in several videos (linked across the "
                                         "batch by the link jobs), the most videos first, each with its best "
                                         "wording and every video's moment"))  # fmt: skip
    linked.add_argument("--min-videos", type=_positive, default=2, metavar="N",
                        help="only claims made in N videos or more (default: 2)")  # fmt: skip
    linked.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N claims (default: 20)")
    _with_json(linked, "the clusters found, with their members")

    contested = _with_config(sub.add_parser("contested", help="claims of different videos that contradict each "
                                            "other (candidate pairs judged by the LLM), each side with its quote "
                                            "and moment"))  # fmt: skip
    contested.add_argument("--supports", action="store_true",
                           help="the pairs judged to support each other instead")  # fmt: skip
    contested.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N pairs (default: 20)")
    _with_json(contested, "the pairs, both sides in full")

    for kind, what in (("people", "the people the batch's videos mention"), ("terms", "the jargon terms the "
                       "batch's videos define")):  # fmt: skip
        described = (
            f"{what}, one entry per person or term across every video (spellings, titles and initials "
            "joined; catalogue.corrections applied), the most videos first, with the claims naming them"
        )
        listed = _with_config(sub.add_parser(kind, help=described))
        listed.add_argument("--name", metavar="TEXT", help="only entries one of whose spellings contains TEXT "
                            "(default: every entry)")  # fmt: skip
        listed.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N entries (default: 20)")
        _with_json(listed, "the entries, with their spellings, videos and claims")

    export = _with_config(sub.add_parser("export", help="every stored claim with its evaluation and evidence, one "
                                         "row each (or, --what, the batch's clusters, people, terms or the videos' "
                                         "summaries)"))  # fmt: skip
    export.add_argument("--format", choices=["jsonl", "csv", "markdown"], default="jsonl",
                        help="jsonl: one JSON object a line with every quote; csv: the first quote and the count; "
                        "markdown: the whole batch as a vault of notes (videos, people, terms, clusters) in the "
                        "folder -o names, rewriting only the notes that changed (default: jsonl)")  # fmt: skip
    export.add_argument("--what", choices=["claims", "clusters", "people", "terms", "summaries"], default="claims",
                        help="claims; clusters (the claims made in several videos, a row per member in csv); "
                        "people or terms (the catalogue, with catalogue.corrections); summaries (a video's summary "
                        "and key points each) (default: claims)")  # fmt: skip
    export.add_argument("--output", "-o", metavar="FILE", help="write here, atomically (default: standard output); "
                        "with --format markdown, the vault's folder (required)")  # fmt: skip

    about = "the batch's mined jargon ranked by how many videos use it, in the format `vocabulary` reads"
    vocab = _with_config(sub.add_parser("vocabulary", help=about + " (to seed the next batch)"))
    vocab.add_argument("--min-videos", type=_positive, default=1, metavar="N",
                       help="only terms used in N videos or more (default: 1)")  # fmt: skip
    vocab.add_argument("--limit", type=_positive, metavar="N", help="only the N most used terms (default: all)")
    vocab.add_argument("--output", "-o", metavar="FILE", help="write here, atomically (default: standard output)")

    browse = _with_config(sub.add_parser("browse", help="the results database in Datasette in your browser: "
                                         "every table described, searchable, faceted, with saved queries "
                                         "(read-only, safe while the batch runs)"))  # fmt: skip
    browse.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                        help="listen on this address (default: 127.0.0.1, this machine only; to share it with a "
                        "team, keep it and put a reverse proxy with authentication in front: README)")  # fmt: skip
    browse.add_argument("--port", type=_positive, default=8001, metavar="N", help="listen on this port (default: 8001)")

    _with_config(sub.add_parser("report", help="write results/report.html, summary.tsv and usage.json now, from "
                                "whatever exists (safe while the batch runs)"))  # fmt: skip

    plan = _with_config(sub.add_parser("plan", help="the batch's timeline (warm-up, steady state, drain), the stage "
                                       "that bounds it, and what would move it"))  # fmt: skip
    plan.add_argument("--videos", type=_positive, metavar="N", help="batch size (default: the sources' count)")
    plan.add_argument("--accounts", type=_positive, metavar="N", help="download accounts (default: the config's)")
    plan.add_argument("--gap", type=float, nargs=2, metavar=("LOW", "HIGH"),
                      help="pacing gap range in seconds (default: pacing.delay)")  # fmt: skip
    plan.add_argument("--minutes", nargs="+", default=[], metavar="STAGE=M",
                      help="minutes per video of a stage (download: the transfer alone), e.g. transcribe=20 "
                      "(default: a typical hour-long video's, or with --measured this folder's)")  # fmt: skip
    plan.add_argument("--measured", action="store_true",
                      help="take each stage's time from the runs in this results folder (their benchmark files), "
                      "where not given by --minutes (default: a typical hour-long video's)")  # fmt: skip
    plan.add_argument("--workers", nargs="+", default=[], metavar="STAGE=N",
                      help="jobs of a stage at once, e.g. transcribe=8 (default: half the cores for transcribe; "
                      "the LLM bound for mine and evaluate)")  # fmt: skip
    plan.add_argument("--captioned", type=_share, metavar="SHARE",
                      help="the share of videos with usable captions, 0 to 1, which take no account's turn and no "
                      "transcription (default: as measured by the captions pass so far, else 0)")  # fmt: skip
    _with_json(plan, "the plan")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # every further argument is Snakemake's, as given
        from claimflow.commands import alerts, runlock  # (as every subcommand: only what it needs)

        return runlock.launch(argv[1:], alerts=alerts.for_run)
    if argv[:1] == ["refresh"]:  # `claimflow run ARGS` that lists every collection again first
        from claimflow.commands import alerts, runlock  # (as above)

        return runlock.launch([*argv[1:], "--forcerun", "list_collection"], help_text=runlock.REFRESH_HELP,
                              alerts=alerts.for_run)  # fmt: skip
    args = build_parser().parse_args(argv)
    try:
        config = cf_config.load(args.configfile)
    except cf_config.ConfigError as exc:
        print(f"claimflow: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Each subcommand imports what it needs, so `claimflow status` starts without the libraries
    # of the LLM, Whisper or the report's figures.
    from claimflow.batch.sources import SourceError
    from claimflow.core.settings import SettingsError, check

    try:
        check(config)  # what the schema cannot say (a reversed range, an endpoint without a model)
        return _dispatch(config, args)
    except (SourceError, SettingsError) as exc:  # the message names the line or key and the fix
        print(f"claimflow: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _dispatch(config: dict, args: argparse.Namespace) -> int:
    commands = {"doctor": _doctor, "unavailable": _unavailable, "gate": _gate, "status": _status,
                "search": _search, "clusters": _clusters, "contested": _contested, "people": _catalogue,
                "terms": _catalogue, "export": _export, "report": _report, "vocabulary": _vocabulary,
                "plan": _plan, "browse": _browse}  # fmt: skip
    return commands[args.command](config, args)


def _fail(command: str, message: str) -> int:
    print(f"claimflow {command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _doctor(config: dict, args: argparse.Namespace) -> int:
    from claimflow.commands import doctor  # what this subcommand alone needs

    checks = []
    for check in doctor.run(config):
        checks.append(check)
        if not args.json:
            print(check.line(), flush=True)
    failed = sum(check.status == doctor.FAIL for check in checks)
    if args.json:
        print(json.dumps({"checks": [check.as_json() for check in checks], "failed": failed}, indent=2))
    else:
        print(f"{failed} check(s) failed" if failed else "ready: every check passed or only warns", flush=True)
    return EXIT_NOT_FINE if failed else EXIT_OK


def _gate(config: dict, args: argparse.Namespace) -> int:
    from claimflow.download import gate  # what this subcommand alone needs

    states = gate.decisions(config["state"])
    if args.reset:
        known = {state["channel"] for state in states}
        if args.reset != "all" and args.reset not in known:
            return _fail("gate", f"--reset {args.reset}: no such channel; the channels are "
                         f"{', '.join(sorted(known)) or 'none yet'}, or all")  # fmt: skip
        from claimflow.core.settings import Settings  # (as above: only a reset writes the database)
        from claimflow.store import database  # (as above)

        gone = gate.reset(config["state"], None if args.reset == "all" else args.reset)
        database.forget_gates(_database(config), gone, Settings.from_config(config).store.busy_timeout)
        if not args.json:
            print(f"reset: {', '.join(gone)}; their videos not downloaded yet are sampled again")
        states = gate.decisions(config["state"])
    if args.json:
        print(json.dumps({"channels": states}, indent=2))
        return EXIT_OK
    for state in states:
        print(gate.line(state))
        for vid, sample in state.get("samples", {}).items():
            measured = f"WER {sample['wer']:.3f} over {sample['words']} words" if sample else "not measured yet"
            print(f"  {vid}\t{measured}")
    if not states:
        print("no channel sampled yet (captions.automatic: gated samples a channel's first videos)")
    return EXIT_OK


def _unavailable(config: dict, args: argparse.Namespace) -> int:
    from claimflow.download import unavailable  # what this subcommand alone needs
    from claimflow.download.outcomes import UNAVAILABLE_CLASSES

    items = unavailable.find(config["results"])
    retry = set(args.retry)
    known = {*UNAVAILABLE_CLASSES, *(item.reason_class for item in items)}
    if unknown := sorted(retry - known - {"all"}):
        return _fail("unavailable", f"--retry {' '.join(unknown)}: no such reason class; the classes are "
                     f"{', '.join(sorted(known))}, or all")  # fmt: skip
    retried = unavailable.retry(config["results"], items, retry) if retry else []
    if args.json:
        print(json.dumps({"by_reason": dict(unavailable.by_reason(items)), "retryable": list(unavailable.RETRYABLE),
                          "videos": [vars(item) for item in items], "set_aside": retried}, indent=2))  # fmt: skip
        return EXIT_OK
    for reason, count in sorted(unavailable.by_reason(items).items(), key=lambda kv: -kv[1]):
        retryable = " (may change: --retry it)" if reason in unavailable.RETRYABLE else ""
        print(f"{reason}: {count}{retryable}")
        for item in (i for i in items if i.reason_class == reason):
            print(f"  {item.vid}\t{item.reason}")
    if not items:
        print("no video ended as unavailable")
    if retry:
        print(f"{len(retried)} video(s) set aside for download: run the batch's `claimflow run` command again")
    return EXIT_OK


def _status(config: dict, args: argparse.Namespace) -> int:
    from rich.console import Console  # what this subcommand alone needs
    from rich.live import Live

    from claimflow.commands import status, statusview

    if args.json:
        print(json.dumps(status.collect(config).to_json(), indent=2))
        return EXIT_OK
    console = Console()
    plain = not console.is_terminal
    if plain:  # a file or a pipe: wide enough that no table wraps
        console = Console(width=160)
    if args.watch is None:
        console.print(statusview.render(status.collect(config), plain))
        return EXIT_OK
    # Ctrl-C raises as usual, and also sets a flag the loop reads between frames: a KeyboardInterrupt
    # raised while a finalizer runs (a connection or file collected mid-frame) is printed and
    # dropped by Python, and the watch would go on until a second Ctrl-C.
    interrupted: list[int] = []

    def on_ctrl_c(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        if plain:  # piped: one frame after another, no cursor movement
            while not interrupted:
                console.print(statusview.render(status.collect(config), plain=True))
                console.print()
                time.sleep(args.watch)
            return EXIT_OK
        with Live(statusview.render(status.collect(config)), console=console, auto_refresh=False) as live:
            while not interrupted:
                time.sleep(args.watch)
                live.update(statusview.render(status.collect(config)), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
    return EXIT_OK


def _database(config: dict) -> str:
    return layout.Results.of(config["results"]).database


def _search_said(config: dict, args: argparse.Namespace) -> int:
    from claimflow.store import query  # (as _search)

    near: dict[tuple[str, int], float] = {}
    try:
        if args.meaning:
            coder = _code_said(config)
            found = query.said_by_meaning(_database(config), args.text, coder, vid=args.video,
                                          collection=args.collection, since=args.since, until=args.until,
                                          limit=args.limit)  # fmt: skip
            near = {(row.vid, row.segment_id): similarity for row, similarity in found}
            rows = [row for row, _ in found]
        else:
            rows = query.said(_database(config), args.text, vid=args.video, collection=args.collection,
                              since=args.since, until=args.until, limit=args.limit)  # fmt: skip
    except query.QueryError as exc:
        return _fail("search", str(exc))
    if args.json and near:
        print(json.dumps([dataclasses.asdict(row) | {"similarity": near[row.vid, row.segment_id]} for row in rows],
                         indent=2))  # fmt: skip
        return EXIT_OK if rows else EXIT_NOT_FINE

    def show(row: query.SaidRow) -> None:
        similar = f" (similarity {near[row.vid, row.segment_id]:.2f})" if near else ""
        print(f'"{row.text.strip()}"{similar}')
        homes = f", in {row.collections}" if row.collections else ""
        print(f"  {row.title or row.vid} ({row.vid}{homes})")
        print(f"  {row.link}")

    if not args.meaning:
        _note_ranked(config, "segments_fts", args, "segments")
    return _found(args, rows, "segment(s)", show)


def _code_said(config: dict) -> Any:
    """The bundled model, after coding the segments of the videos stored since the last search
    by meaning (claimflow/store/said.py); a database this user may not write is searched as it
    is, with a note."""
    from claimflow.knowledge import embed  # (as _search_meaning)
    from claimflow.store import said

    def announce(videos: int) -> None:
        if videos > said.VIDEOS_PER_WRITE:
            print(f"coding what was said in {videos:,} videos for the search by meaning (once: about "
                  f"{max(1, round(videos / said.VIDEOS_PER_SECOND)):,} s)", file=sys.stderr)  # fmt: skip

    coder = embed.WordLlamaEmbedder(embed.WORDLLAMA)
    if Path(_database(config)).is_file():  # else the search names what is missing
        try:
            said.code_stored(_database(config), coder, announce)
        except sqlite3.OperationalError as exc:  # a read-only file or folder, a lock held for minutes
            print(f"note: what was said in the videos stored since the last search by meaning is not searched "
                  f"({exc}): search where the database may be written", file=sys.stderr)  # fmt: skip
    return coder


def _note_ranked(config: dict, table: str, args: argparse.Namespace, what: str) -> None:
    """On stderr, when the words were found in more places than a search ranks (query.RANKED)."""
    from claimflow.store import query  # (as _search)

    if not query.ranked_all(_database(config), table, args.text):
        print(f"note: {args.text!r} is in more than {query.RANKED:,} {what}: the best among the latest "
              f"{query.RANKED:,} stored are shown; a phrase in quotes or a rarer word ranks every match",
              file=sys.stderr)  # fmt: skip


def _found(args: argparse.Namespace, rows: list, noun: str, show: Callable[[Any], None]) -> int:
    """Rows found: as JSON (--json), else each shown and the count on stderr; exit 1 for none."""
    if args.json:
        print(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
        return EXIT_OK if rows else EXIT_NOT_FINE
    for row in rows:
        show(row)
    print(f"{len(rows)} {noun} found" + (f" (--limit {args.limit})" if len(rows) == args.limit else ""),
          file=sys.stderr)  # fmt: skip
    return EXIT_OK if rows else EXIT_NOT_FINE


def _search_summaries(config: dict, args: argparse.Namespace) -> int:
    from claimflow.store import query  # (as _search)

    try:
        rows = query.summaries(_database(config), args.video, text=args.text, collection=args.collection,
                               since=args.since, until=args.until, limit=args.limit)  # fmt: skip
    except query.QueryError as exc:
        return _fail("search", str(exc))

    def show(row: query.SummaryRow) -> None:
        print(f"{row.title or row.vid} ({row.vid})")
        print(f"  {row.summary}")
        for point in row.key_points:
            print(f"  - {point}")
        if row.source:
            print(f"  {row.source}")

    return _found(args, rows, "summary(ies)", show)


def _videos_naming(config: dict, name: str) -> set[str]:
    """The videos that mention a person, by the batch's catalogue (its spellings and the user's
    corrections)."""
    from claimflow.knowledge import catalogue  # what --person alone needs
    from claimflow.store import query

    fixes = catalogue.load_corrections((config.get("catalogue") or {}).get("corrections"))
    found = query.catalogue(_database(config), corrections=fixes, name=name, limit=None, claims_per_entry=0)
    return {vid for entry in found for vid in entry.vids}


def _search_meaning(config: dict, args: argparse.Namespace, near: dict[tuple[str, str], float]) -> list:
    """The claims nearest the text in meaning; their similarities into `near`."""
    from claimflow.core.settings import Settings  # what the search by meaning alone needs
    from claimflow.knowledge import embed
    from claimflow.store import query

    model = Settings.from_config(config).link.embedding
    cache = layout.State.of(config["state"]).embedding_cache
    found = query.meaning(_database(config), args.text, embed.embedder(model, config, cache), tier=args.tier,
                          vid=args.video,
                          claim_type=args.claim_type, collection=args.collection, since=args.since,
                          until=args.until, limit=args.limit)  # fmt: skip
    near.update({(row.vid, row.claim_id): similarity for row, similarity in found})
    return [row for row, _ in found]


def _search(config: dict, args: argparse.Namespace) -> int:
    from claimflow.knowledge.mine import CLAIM_TYPES  # what this subcommand alone needs
    from claimflow.store import query

    if unknown := sorted(set(args.claim_type or ()) - set(CLAIM_TYPES)):
        return _fail("search", f"--type {' '.join(unknown)}: no such claim type; the types are {' '.join(CLAIM_TYPES)}")
    if args.person:
        try:
            mentioned = _videos_naming(config, args.person)
        except ValueError as exc:  # QueryError, a corrections file that cannot be read
            return _fail("search", str(exc))
        if not mentioned:
            return _fail("search", f"--person {args.person}: no person of the batch is written so; `claimflow people` "
                         "lists them")  # fmt: skip
        args.video = sorted(set(args.video) & mentioned) if args.video else sorted(mentioned)
        if not args.video:
            return _fail("search", f"--person {args.person}: none of the --video ids mentions them")
    if args.said and args.summaries:
        return _fail("search", "--said and --summaries: one searches every transcript segment, the other the "
                     "videos' summaries; choose one")  # fmt: skip
    if args.said:
        if args.tier or args.claim_type:
            return _fail("search", "--said searches transcript segments, which have no tier or type: drop --tier "
                         "and --type, or search the claims without --said")  # fmt: skip
        return _search_said(config, args)
    if args.summaries:
        if args.tier or args.claim_type or args.meaning:
            return _fail("search", "--summaries searches the videos' summaries, which have no tier, type or "
                         "vectors: drop --tier, --type and --meaning, or search the claims without "
                         "--summaries")  # fmt: skip
        return _search_summaries(config, args)
    near: dict[tuple[str, str], float] = {}
    try:
        if args.meaning:
            rows = _search_meaning(config, args, near)
        else:
            rows = query.search(_database(config), args.text, tier=args.tier, vid=args.video,
                                claim_type=args.claim_type, collection=args.collection, since=args.since,
                                until=args.until, limit=args.limit)  # fmt: skip
    except query.QueryError as exc:
        return _fail("search", str(exc))
    if args.json:
        print(json.dumps([dataclasses.asdict(row) | {"link": row.link}
                          | ({"similarity": round(near[row.vid, row.claim_id], 4)} if near else {})
                          for row in rows], indent=2))  # fmt: skip
        return EXIT_OK if rows else EXIT_NOT_FINE
    for row in rows:
        tier = f"tier {row.tier}" if row.decision == "accept" else (row.decision or "not evaluated")
        score = "" if row.score is None else f", score {row.score:.2f}"
        similar = f", similarity {near[row.vid, row.claim_id]:.2f}" if near else ""
        print(f"[{tier}{score}{similar}] {row.claim_text}")
        homes = f", in {row.collections}" if row.collections else ""
        print(f"  {row.title or row.vid} ({row.vid}{homes})")
        if row.quote:
            print(f'  "{row.quote}"')
        print(f"  {row.link}")
    if not args.meaning:
        _note_ranked(config, "claims_fts", args, "claims")
    print(f"{len(rows)} claim(s) found" + (f" (--limit {args.limit})" if len(rows) == args.limit else ""),
          file=sys.stderr)  # fmt: skip
    return EXIT_OK if rows else EXIT_NOT_FINE


def _clusters(config: dict, args: argparse.Namespace) -> int:
    from claimflow.store import query  # what this subcommand alone needs

    try:
        found = query.clusters(_database(config), min_videos=args.min_videos, limit=args.limit)
    except query.QueryError as exc:
        return _fail("clusters", str(exc))
    if args.json:
        print(json.dumps([dataclasses.asdict(row) for row in found], indent=2))
        return EXIT_OK if found else EXIT_NOT_FINE
    for row in found:
        span = f", {row.first} to {row.last}" if row.first and row.first != row.last else ""
        print(f"[{row.videos} videos, {row.channels} channels{span}] {row.canonical}")
        for member in row.members:
            print(f"  {member.title or member.vid} ({member.vid}): {member.claim_text}")
            print(f"    {member.link}")
    print(f"{len(found)} claim(s) made in {args.min_videos} videos or more"
          + (f" (--limit {args.limit})" if len(found) == args.limit else ""), file=sys.stderr)  # fmt: skip
    return EXIT_OK if found else EXIT_NOT_FINE


def _contested(config: dict, args: argparse.Namespace) -> int:
    from claimflow.store import query  # what this subcommand alone needs

    relation = "supports" if args.supports else "contradicts"
    try:
        found = query.judged_pairs(_database(config), relation, limit=args.limit)
    except query.QueryError as exc:
        return _fail("contested", str(exc))
    if args.json:

        def sides(row: query.PairRow) -> dict:
            return {name: dataclasses.asdict(c) | {"link": c.link} for name, c in (("first", row.first),
                                                                                  ("second", row.second))}  # fmt: skip

        print(json.dumps([dataclasses.asdict(row) | sides(row) for row in found], indent=2))
        return EXIT_OK if found else EXIT_NOT_FINE
    for row in found:
        print(f"[{relation}, similarity {row.similarity:.2f}] {row.reason or ''}".rstrip())
        for side in (row.first, row.second):
            print(f"  {side.claim_text}")
            print(f'    "{side.quote or ""}" {side.title or side.vid} ({side.vid}) {side.link}')
    print(f"{len(found)} pair(s) judged {relation}" + (f" (--limit {args.limit})" if len(found) == args.limit
          else ""), file=sys.stderr)  # fmt: skip
    return EXIT_OK if found else EXIT_NOT_FINE


def _catalogue(config: dict, args: argparse.Namespace) -> int:
    from claimflow.knowledge import catalogue  # what this subcommand alone needs
    from claimflow.store import query

    people = args.command == "people"
    try:
        corrections = catalogue.load_corrections((config.get("catalogue") or {}).get("corrections"))
        found = query.catalogue(_database(config), people=people, corrections=corrections, name=args.name,
                                limit=args.limit)  # fmt: skip
    except ValueError as exc:  # QueryError included
        return _fail(args.command, str(exc))
    if args.json:
        rows = [dataclasses.asdict(row) | {"claims": [dataclasses.asdict(c) | {"link": c.link} for c in row.claims]}
                for row in found]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return EXIT_OK if found else EXIT_NOT_FINE
    for row in found:
        others = [a for a in row.aliases if a != row.name]
        also = f"; also {', '.join(others)}" if others else ""
        detail = f": {row.detail}" if row.detail else ""
        counts = f"{len(row.vids)} video{'s' * (len(row.vids) != 1)}, {row.mentions} mention{'s' * (row.mentions != 1)}"
        print(f"{row.name}{detail} [{counts}{also}]")
        for claim in row.claims:
            print(f"  {claim.claim_text}")
            print(f"    {claim.link}")
    print(f"{len(found)} {'people' if people else 'terms'}" + (f" (--limit {args.limit})" if len(found) == args.limit
          else ""), file=sys.stderr)  # fmt: skip
    return EXIT_OK if found else EXIT_NOT_FINE


def _export(config: dict, args: argparse.Namespace) -> int:
    from claimflow.core import atomic  # what this subcommand alone needs
    from claimflow.knowledge import catalogue
    from claimflow.store import query

    if args.format == "markdown":
        return _export_vault(config, args)
    try:
        if args.what == "claims":
            lines = query.export(_database(config), args.format)
        else:
            fixes = catalogue.load_corrections((config.get("catalogue") or {}).get("corrections"))
            lines = query.export_knowledge(_database(config), args.what, args.format, fixes)
        if args.output:
            with atomic.atomic_open(args.output) as handle:
                handle.writelines(lines)
        else:
            sys.stdout.writelines(lines)
    except ValueError as exc:  # QueryError, a corrections file that cannot be read
        return _fail("export", str(exc))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _export_vault(config: dict, args: argparse.Namespace) -> int:
    from claimflow.knowledge import catalogue  # (as _export)
    from claimflow.store import vault

    if not args.output:
        return _fail("export", "--format markdown writes a folder of notes: name it with -o DIR")
    if args.what != "claims":
        return _fail("export", f"--format markdown exports the whole batch (--what {args.what} is for jsonl and "
                     "csv): leave --what out")  # fmt: skip
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        return _fail("export", f"{folder} is a file: -o names the vault's folder")
    try:
        fixes = catalogue.load_corrections((config.get("catalogue") or {}).get("corrections"))
        done = vault.export(_database(config), folder, fixes)
    except ValueError as exc:  # QueryError, a corrections file that cannot be read
        return _fail("export", str(exc))
    print(f"{folder}: {done.notes} notes, {len(done.written)} written, {done.unchanged} unchanged")
    for path in done.kept:
        print(
            f"  {path}: left as it is (its '{vault.USER_HEADING}' mark is gone, so what is yours there is "
            "unknown): delete it to have it made again",
            file=sys.stderr,
        )
    return EXIT_OK


def _browse(config: dict, args: argparse.Namespace) -> int:
    from claimflow.commands import browse  # Datasette and its server: this subcommand's alone

    database = Path(_database(config))
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}/"
    try:
        browse.check_address(args.host, args.port)
        print(f"claimflow browse: {database} at {where}{database.stem} (read-only; Ctrl-C stops)", file=sys.stderr)
        if not browse.is_loopback(args.host):
            print(f"claimflow browse: listening on {args.host}: anyone who reaches this machine reads the results; "
                  "a team's instance belongs behind a reverse proxy with authentication (README)",
                  file=sys.stderr)  # fmt: skip
        browse.serve(database, args.host, args.port, f"claimflow: {database.parent}")
    except browse.BrowseError as exc:
        return _fail("browse", str(exc))
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _vocabulary(config: dict, args: argparse.Namespace) -> int:
    from claimflow.batch import vocabulary  # what this subcommand alone needs
    from claimflow.core import atomic

    try:
        ranked = vocabulary.ranked_jargon(_database(config), args.min_videos, args.limit)
    except vocabulary.VocabularyError as exc:
        return _fail("vocabulary", str(exc))
    text = vocabulary.as_file(ranked, _database(config))
    if args.output:
        atomic.write_text(args.output, text)
        print(f"{len(ranked)} term(s) written to {args.output}; set `vocabulary: {args.output}` to use them",
              file=sys.stderr)  # fmt: skip
    else:
        sys.stdout.write(text)
    return EXIT_OK if ranked else EXIT_NOT_FINE


def _report(config: dict, args: argparse.Namespace) -> int:
    from claimflow.batch import collections, sources  # what this subcommand alone needs
    from claimflow.commands import report
    from claimflow.store import summary

    results = layout.Results.of(config["results"])
    vids = collections.vids_on_disk(sources.batch_of(config), results)
    report.build(config, vids, results, results.report, config_files=args.configfile)
    rows = summary.write(results.database, vids, results.summary, results.usage, results)
    print(f"{results.report}, {results.summary} and {results.usage} written")
    print(summary.last_line(rows)[0])
    return EXIT_OK


def _pairs(items: list[str], kind: type, what: str) -> dict:
    from claimflow.commands.plan import PROCESSING  # what `plan` alone needs

    found = {}
    for item in items:
        stage, _, value = item.partition("=")
        if stage not in ("download", *PROCESSING) or not value:
            raise ValueError(f"{what} {item!r}: write STAGE=VALUE with STAGE one of download, {', '.join(PROCESSING)}")
        try:
            found[stage] = kind(value)
        except ValueError:
            raise ValueError(f"{what} {item!r}: {value!r} is not a number") from None
        if found[stage] <= 0:
            raise ValueError(f"{what} {item!r}: it must be more than 0")
    return found


def _plan(config: dict, args: argparse.Namespace) -> int:
    from claimflow.batch import collections, sources  # what this subcommand alone needs
    from claimflow.commands import plan
    from claimflow.core.settings import Settings

    try:
        minutes = _pairs(args.minutes, float, "--minutes")
        workers = _pairs(args.workers, int, "--workers")
    except ValueError as exc:
        return _fail("plan", str(exc))
    if args.gap and not 0 < args.gap[0] <= args.gap[1]:
        return _fail("plan", f"--gap {args.gap[0]:g} {args.gap[1]:g}: write LOW HIGH, more than 0, LOW first")
    videos = args.videos or len(collections.vids_on_disk(sources.batch_of(config), config["results"]))
    batch, origins = plan.from_config(config, videos, minutes, workers, args.accounts,
                                      tuple(args.gap) if args.gap else None, use_measured=args.measured,
                                      captioned=args.captioned)  # fmt: skip
    projection, origin = plan.spend(config, videos, use_measured=args.measured)
    budget = Settings.from_config(config).llm_runtime.budget
    if args.json:
        summary = plan.summary(batch, origins)
        summary["llm_spend"] = {"projection": dataclasses.asdict(projection) if projection else None,
                                "from": origin, "budget": dataclasses.asdict(budget)}  # fmt: skip
        print(json.dumps(summary, indent=2))
    else:
        said = projection.line(budget) if projection else "unknown"
        print(plan.render(batch, origins) + f"\n\nLLM spend, {said}\n  ({origin})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

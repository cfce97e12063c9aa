"""The `claimflow` command. Every subcommand reads config exactly as the workflow does: the
shipped defaults, then each `--configfile` in order."""

from __future__ import annotations

import argparse
import os
import sys

from claimflow import config as cf_config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # every further argument is Snakemake's, as given
        from claimflow import runlock

        return runlock.launch(argv[1:])
    if argv[:1] == ["refresh"]:  # `claimflow run ARGS` that lists every collection again first
        from claimflow import runlock

        return runlock.launch([*argv[1:], "--forcerun", "list_collection"])
    parser = argparse.ArgumentParser(prog="claimflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="snakemake ARGS, refused while another run is alive in the folder, and "
                         "after a crash without `--unlock` first (the lock a dead run left is removed)")  # fmt: skip
    run.add_argument("snakemake_args", nargs=argparse.REMAINDER, metavar="ARGS")
    refresh = sub.add_parser("refresh", help="`claimflow run ARGS` that first lists every collection (channel, "
                             "playlist, feed) again: new entries are processed, nothing done is redone, entries "
                             "gone from a collection stay stored as no longer listed")  # fmt: skip
    refresh.add_argument("snakemake_args", nargs=argparse.REMAINDER, metavar="ARGS")
    doctor = sub.add_parser("doctor", help="check the environment before a batch: LLM, Whisper, yt-dlp, folders")
    doctor.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                        help="the same config files the workflow is run with")  # fmt: skip
    listing = sub.add_parser("unavailable", help="videos that ended as unavailable, by reason; --retry sets them up "
                             "to be downloaded again by the next run")  # fmt: skip
    listing.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    listing.add_argument("--retry", nargs="+", metavar="REASON", default=[],
                         help="reason classes to retry (geo_blocked age_restricted unknown ...), or `all`")  # fmt: skip
    status = sub.add_parser("status", help="where the batch stands: stages, accounts, buffer, rates, ETA, LLM usage "
                            "(from the files alone; safe while the batch runs)")  # fmt: skip
    status.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    status.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    status.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                        help="redraw every SECONDS (default 10) until Ctrl-C")  # fmt: skip
    search = sub.add_parser("search", help="full-text search over stored claims and their quotes")
    search.add_argument("text", help='words, "a phrase", or FTS5 syntax (AND, OR, NOT, prefix*)')
    search.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    search.add_argument("--tier", nargs="+", metavar="TIER", help="only these tiers (A B C D)")
    search.add_argument("--video", nargs="+", metavar="VID", help="only these video ids")
    search.add_argument("--type", nargs="+", metavar="TYPE", dest="claim_type", help="only these claim types")
    search.add_argument("--collection", nargs="+", metavar="NAME",
                        help="only videos of these collections (a channel, playlist or feed: its name)")  # fmt: skip
    search.add_argument("--limit", type=int, default=20)
    export = sub.add_parser("export", help="every stored claim with its evaluation and evidence, one row each")
    export.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    vocab = sub.add_parser("vocabulary", help="the batch's mined jargon terms ranked by how many videos use them, "
                           "in the file format `vocabulary` reads (to seed the next batch's)")  # fmt: skip
    vocab.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    vocab.add_argument("--min-videos", type=int, default=1, metavar="N", help="only terms used in N videos or more")
    vocab.add_argument("--limit", type=int, metavar="N", help="only the N most used terms")
    vocab.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    report = sub.add_parser("report", help="write results/report.html, summary.tsv and usage.json now, from "
                            "whatever exists (safe while the batch runs)")  # fmt: skip
    report.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    plan = sub.add_parser("plan", help="the batch's timeline: warm-up, steady state, drain; the stage that bounds it "
                          "and what would move it")  # fmt: skip
    plan.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    plan.add_argument("--videos", type=int, help="batch size (default: the sources' count)")
    plan.add_argument("--accounts", type=int, help="download accounts (default: the config's)")
    plan.add_argument("--gap", type=float, nargs=2, metavar=("LOW", "HIGH"), help="pacing gap range in seconds")
    plan.add_argument("--minutes", nargs="+", default=[], metavar="STAGE=M",
                      help="minutes per video of a stage (download is the transfer alone), e.g. "
                      "transcribe=20; default: measured from earlier runs' benchmark files, else a typical "
                      "hour-long video")  # fmt: skip
    plan.add_argument("--workers", nargs="+", default=[], metavar="STAGE=N",
                      help="jobs of a stage at once, e.g. transcribe=8 (default: half the cores; the LLM "
                      "bound)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        config = cf_config.load(args.configfile)
    except cf_config.ConfigError as exc:
        print(f"claimflow: {exc}", file=sys.stderr)
        return 2
    from claimflow.sources import SourceError

    try:
        return _dispatch(config, args)
    except SourceError as exc:  # the sources file: the message names the line and the fix
        print(f"claimflow: {exc}", file=sys.stderr)
        return 2


def _dispatch(config: dict, args: argparse.Namespace) -> int:
    if args.command == "doctor":
        return _doctor(config)
    if args.command == "unavailable":
        return _unavailable(config, set(args.retry))
    if args.command == "status":
        return _status(config, args.json, args.watch)
    if args.command == "search":
        return _search(config, args)
    if args.command == "export":
        return _export(config, args.format, args.output)
    if args.command == "report":
        return _report(config)
    if args.command == "vocabulary":
        return _vocabulary(config, args)
    if args.command == "plan":
        return _plan(config, args)
    return 2  # pragma: no cover - argparse refuses unknown commands


def _doctor(config: dict) -> int:
    from claimflow import doctor

    failed = 0
    for check in doctor.run(config):
        print(check.line(), flush=True)
        failed += check.status == doctor.FAIL
    print(f"{failed} check(s) failed" if failed else "ready: every check passed or only warns", flush=True)
    return 1 if failed else 0


def _unavailable(config: dict, retry: set[str]) -> int:
    from claimflow import unavailable

    items = unavailable.find(config["results"])
    for reason, count in sorted(unavailable.by_reason(items).items(), key=lambda kv: -kv[1]):
        retryable = " (may change: --retry it)" if reason in unavailable.RETRYABLE else ""
        print(f"{reason}: {count}{retryable}")
        for item in (i for i in items if i.reason_class == reason):
            print(f"  {item.vid}\t{item.reason}")
    if not items:
        print("no video ended as unavailable")
    if retry:
        retried = unavailable.retry(config["results"], items, retry)
        print(f"{len(retried)} video(s) set aside for download: run the same snakemake command again")
    return 0


def _status(config: dict, as_json: bool, watch: float | None) -> int:
    import json
    import time

    from rich.console import Console
    from rich.live import Live

    from claimflow import status, statusview

    if as_json:
        print(json.dumps(status.collect(config).to_json(), indent=2))
        return 0
    console = Console()
    plain = not console.is_terminal
    if plain:  # a file or a pipe: wide enough that no table wraps
        console = Console(width=160)
    if watch is None:
        console.print(statusview.render(status.collect(config), plain))
        return 0
    try:
        if plain:  # piped: one frame after another, no cursor movement
            while True:
                console.print(statusview.render(status.collect(config), plain=True))
                console.print()
                time.sleep(watch)
        with Live(statusview.render(status.collect(config)), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(watch)
                live.update(statusview.render(status.collect(config)), refresh=True)
    except KeyboardInterrupt:
        return 0


def _database(config: dict) -> str:
    return f"{config['results'].rstrip('/')}/claimflow.sqlite"


def _search(config: dict, args: argparse.Namespace) -> int:
    from claimflow import query

    try:
        rows = query.search(_database(config), args.text, tier=args.tier, vid=args.video,
                            claim_type=args.claim_type, collection=args.collection, limit=args.limit)  # fmt: skip
    except query.QueryError as exc:
        print(f"claimflow search: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        tier = f"tier {row.tier}" if row.decision == "accept" else (row.decision or "not evaluated")
        score = "" if row.score is None else f", score {row.score:.2f}"
        print(f"[{tier}{score}] {row.claim_text}")
        homes = f", in {row.collections}" if row.collections else ""
        print(f"  {row.title or row.vid} ({row.vid}{homes})")
        if row.quote:
            print(f'  "{row.quote}"')
        print(f"  {row.link}")
    print(f"{len(rows)} claim(s) found" + (f" (--limit {args.limit})" if len(rows) == args.limit else ""),
          file=sys.stderr)  # fmt: skip
    return 0 if rows else 1


def _export(config: dict, fmt: str, output: str | None) -> int:
    from claimflow import atomic, query

    try:
        if output:
            with atomic.atomic_open(output) as handle:
                handle.writelines(query.export(_database(config), fmt))
        else:
            sys.stdout.writelines(query.export(_database(config), fmt))
    except query.QueryError as exc:
        print(f"claimflow export: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def _vocabulary(config: dict, args: argparse.Namespace) -> int:
    from claimflow import atomic, vocabulary

    try:
        ranked = vocabulary.ranked_jargon(_database(config), args.min_videos, args.limit)
    except vocabulary.VocabularyError as exc:
        print(f"claimflow vocabulary: {exc}", file=sys.stderr)
        return 2
    text = vocabulary.as_file(ranked, _database(config))
    if args.output:
        atomic.write_text(args.output, text)
        print(f"{len(ranked)} term(s) written to {args.output}; set `vocabulary: {args.output}` to use them",
              file=sys.stderr)  # fmt: skip
    else:
        sys.stdout.write(text)
    return 0 if ranked else 1


def _report(config: dict) -> int:
    from claimflow import report, settings, sources, summary

    cfg = settings.Settings.from_config(config)
    results = cfg.results.rstrip("/")
    vids = sources.vids_on_disk(sources.batch_of(config), results)
    report.build(cfg.pacing, vids, results, f"{results}/report.html")
    rows = summary.write(f"{results}/claimflow.sqlite", vids, f"{results}/summary.tsv", f"{results}/usage.json",
                         results)  # fmt: skip
    print(f"{results}/report.html, summary.tsv and usage.json written")
    print(summary.last_line(rows)[0])
    return 0


def _pairs(items: list[str], kind: type, what: str) -> dict:
    from claimflow.plan import PROCESSING

    found = {}
    for item in items:
        stage, _, value = item.partition("=")
        if stage not in ("download", *PROCESSING) or not value:
            raise ValueError(f"{what} {item!r}: write STAGE=VALUE with STAGE one of download, {', '.join(PROCESSING)}")
        try:
            found[stage] = kind(value)
        except ValueError:
            raise ValueError(f"{what} {item!r}: {value!r} is not a number") from None
    return found


def _plan(config: dict, args: argparse.Namespace) -> int:
    from claimflow import plan, sources

    try:
        minutes = _pairs(args.minutes, float, "--minutes")
        workers = _pairs(args.workers, int, "--workers")
    except ValueError as exc:
        print(f"claimflow plan: {exc}", file=sys.stderr)
        return 2
    videos = args.videos or len(sources.vids_on_disk(sources.batch_of(config), config["results"]))
    batch, origins = plan.from_config(config, videos, minutes, workers, args.accounts,
                                      tuple(args.gap) if args.gap else None)  # fmt: skip
    print(plan.render(batch, origins))
    return 0


if __name__ == "__main__":
    sys.exit(main())

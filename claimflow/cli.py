"""The `claimflow` command. Every subcommand reads config exactly as the workflow does: the
shipped defaults, then each `--configfile` in order."""

from __future__ import annotations

import argparse
import sys

from claimflow import config as cf_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claimflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="check the environment before a batch: LLM, Whisper, yt-dlp, folders")
    doctor.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                        help="the same config files the workflow is run with")  # fmt: skip
    listing = sub.add_parser("unavailable", help="videos that ended as unavailable, by reason; --retry sets them up "
                             "to be downloaded again by the next run")  # fmt: skip
    listing.add_argument("--configfile", nargs="+", default=[], metavar="FILE")
    listing.add_argument("--retry", nargs="+", metavar="REASON", default=[],
                         help="reason classes to retry (geo_blocked age_restricted unknown ...), or `all`")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        config = cf_config.load(args.configfile)
    except cf_config.ConfigError as exc:
        print(f"claimflow: {exc}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        return _doctor(config)
    if args.command == "unavailable":
        return _unavailable(config, set(args.retry))
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


if __name__ == "__main__":
    sys.exit(main())

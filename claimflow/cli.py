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
    args = parser.parse_args(argv)
    try:
        config = cf_config.load(args.configfile)
    except cf_config.ConfigError as exc:
        print(f"claimflow: {exc}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        return _doctor(config)
    return 2  # pragma: no cover - argparse refuses unknown commands


def _doctor(config: dict) -> int:
    from claimflow import doctor

    failed = 0
    for check in doctor.run(config):
        print(check.line(), flush=True)
        failed += check.status == doctor.FAIL
    print(f"{failed} check(s) failed" if failed else "ready: every check passed or only warns", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

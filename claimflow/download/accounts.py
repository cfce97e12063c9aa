"""Download accounts: who fetches which video, and each account's persistent state.

An account is a cookie jar (or none: anonymous) with an optional proxy. Each becomes a
Snakemake resource `account_<name>=1`, so the scheduler runs one download per account at a
time; its pacing state lives in `state/accounts/<name>.json` beside a lock file. The state
never holds secrets: no cookie contents, no proxy credentials.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimflow.core.logs import redact, register_secret
from claimflow.core.settings import Pacing, Warmup
from claimflow.download import cookies, health

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    name: str
    cookies: str | None = None
    proxy: str | None = None
    delay: tuple[float, float] | None = None
    floor: float | None = None

    @property
    def resource(self) -> str:
        return resource_name(self.name)

    def describe(self) -> str:
        """A log-safe description: never the cookie path's contents nor proxy passwords."""
        jar = "cookies" if self.cookies else "anonymous"
        proxy = f", proxy {redact(self.proxy)}" if self.proxy else ""
        return f"account {self.name} ({jar}{proxy})"


@dataclass(frozen=True)
class AccountPacing:
    """How one account is paced: its own gap range and floor, else the batch's (pacing.delay,
    pacing.floor), and the batch's warm-up. The one place this is decided: the download, a
    collection's listing, `claimflow status` and `claimflow plan` all ask here."""

    delay: tuple[float, float]
    floor: float
    warmup: Warmup


def pacing_of(account: Account, pacing: Pacing) -> AccountPacing:
    delay = account.delay or pacing.delay
    return AccountPacing(tuple(delay), account.floor if account.floor is not None else pacing.floor, pacing.warmup)


def resource_name(account: str) -> str:
    return f"account_{account}"


def from_config(config: dict[str, Any]) -> list[Account]:
    accounts = []
    for entry in config["accounts"]:  # required by the schema
        delay = entry.get("delay")
        proxy = entry.get("proxy")
        if proxy:
            register_secret(urlsplit(proxy).password)
        accounts.append(
            Account(
                name=entry["name"],
                cookies=entry.get("cookies"),
                proxy=proxy,
                delay=(float(delay[0]), float(delay[1])) if delay else None,
                floor=entry.get("floor"),
            )
        )
    return accounts


def assign(vids: list[str], accounts: list[Account]) -> dict[str, str]:
    """Round-robin over the batch order: every account gets an equal share of videos."""
    names = [a.name for a in accounts]
    return {vid: names[i % len(names)] for i, vid in enumerate(vids)}


def read_states(state_dir: str | os.PathLike[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """Each account's state as last written (no lock: a snapshot for planning only)."""
    states = {}
    for name in names:
        try:
            states[name] = json.loads(state_path(state_dir, name).read_text())
        except (FileNotFoundError, ValueError):
            states[name] = {}
    return states


def book(assigned: str, names: list[str], attempt: int = 1) -> str:
    """The account a download job books: its assigned one, then on each retry the next one
    round the list. A pure function of (assignment, attempt), so building the DAG reads no
    state file per job; the job itself consults the account's health under its lock and
    fails over from a disabled or paused account (claimflow.download.stage)."""
    start = names.index(assigned)
    return names[(start + attempt - 1) % len(names)]


def booked_from_resources(resources: Any, accounts: list[Account]) -> str | None:
    """The account whose slot the job holds (the `account_<name>` resource set to 1); None for a
    job that books none (its video takes the captions road, or is unavailable: no turn)."""
    return next((a.name for a in accounts if resources.get(a.resource, 0)), None)


def all_disabled(accounts: list[Account], state_dir: str | os.PathLike[str]) -> bool:
    """True when no account can download (each disabled, its cookie file not replaced since)."""
    states = read_states(state_dir, [a.name for a in accounts])
    for account in accounts:
        health.refresh(states[account.name], health.cookie_mtime(account.cookies))
    return all(health.is_disabled(states[a.name]) for a in accounts)


def health_report(accounts: list[Account], state_dir: str | os.PathLike[str]) -> str:
    """A few lines on accounts that are not downloading, or '' when all are healthy."""
    now = time.time()
    states = read_states(state_dir, [a.name for a in accounts])
    lines = []
    for account in accounts:
        state = states[account.name]
        if health.is_disabled(state):
            lines.append(f"  {account.name}: DISABLED: {state.get('disabled_reason')}")
        elif until := health.paused_until(state, now):
            lines.append(f"  {account.name}: paused for {until - now:.0f}s more (repeated rate limits)")
    if not lines:
        return ""
    head = "claimflow accounts:"
    if len(lines) == len(accounts) and all("DISABLED" in line for line in lines):
        head = (
            "claimflow: every download account is disabled, so downloads stopped. Finished work is "
            "kept. Export fresh cookies (replacing a cookie file re-enables its account) or add "
            "accounts, then run the same command again."
        )
    return "\n".join([head, *lines])


def check_cookie_file(account: Account) -> None:
    """Fail clearly on a missing or malformed cookie file (naming the line, never a value);
    warn when other users can read it."""
    if not account.cookies:
        return

    cookies.check(account.cookies, account.name)
    if warning := cookie_file_warning(account):
        log.warning("%s", warning)


def cookie_file_warning(account: Account) -> str | None:
    """A cookie file is a logged-in session: say so when other users of the machine can read it
    (or when it is missing, which fails every download of the account). The path is named, never
    the contents."""
    if not account.cookies:
        return None
    path = Path(account.cookies).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        return (f"account {account.name}: cookie file {path} not found, so its downloads will fail; export it "
                f"(Netscape format) or remove `cookies` from the account")  # fmt: skip
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (f"account {account.name}: cookie file {path} is readable by other users (mode "
                f"{stat.S_IMODE(mode):o}); run `chmod 600 {path.name}` in its folder")  # fmt: skip
    return None


def state_path(state_dir: str | os.PathLike[str], name: str) -> Path:
    return Path(state_dir) / f"{name}.json"

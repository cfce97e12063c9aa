"""The captions pass: before any account's turn, one small request per video for its info and
its caption tracks, no media. Its record (`captions.json`) decides the video's road
(claimflow/download/roads.py): a video with usable captions never takes an account's turn and
never downloads audio.

It is paced on its own, as one network identity with no cookies (`captions.pacing`: a gap of
seconds, not the accounts' minutes: a caption request is small and a public video needs no
login), under a file lock on `state/captions/anonymous.json` exactly as an account's downloads
are (claimflow/download/pace.py), and the scheduler runs one at a time (the `captions_pass`
slot). Rate limits back off by the accounts' rules (`pacing.adaptive`). The download's
machinery applies: failure classes, the environment stop, back-off and pause on 429s and bot
checks, nothing called unavailable for an environment fault. A video that refuses anonymous
access is recorded as such and takes the audio road: its account fetches the human
captions with the audio, on that account's pacing.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimflow.core import atomic, layout
from claimflow.core.logs import redact
from claimflow.core.settings import Adaptive, CaptionsPass, DownloadOptions
from claimflow.download import captions, envstop, health, outcomes, pace, ytdlp
from claimflow.download.accounts import Account

log = logging.getLogger(__name__)

IDENTITY = "anonymous"  # the one network identity the pass asks as (its state file's name)
WORK = ".captions"  # yt-dlp's folder during the request (removed after)

# Statuses of a captions.json: ok (asked; `tracks` may be empty), unavailable (the video's own
# property: the audio road would fail too), needs_account (refused anonymously), local (the
# user's own file) and media (an address of a media file itself, as a feed's enclosures are):
# nothing to ask, no request; off (captions.enabled is off).
OK, UNAVAILABLE, NEEDS_ACCOUNT, LOCAL, MEDIA, OFF = "ok", "unavailable", "needs_account", "local", "media", "off"
# The endings of a media file's own address: it has no page, so no captions to ask for, and
# asking would be a request to the media host for nothing.
MEDIA_SUFFIXES = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".mp4", ".m4v", ".webm", ".mkv",
                  ".mov")  # fmt: skip

# What asks: CaptionsFetcher's signature (url, workdir, account, socket_timeout, langs,
# passthrough), a context manager called once for (info, {lang: (kind, ext, file)}, warnings).
FetcherFactory = Callable[..., Any]

INFO = ("title", "channel", "channel_id", "uploader", "upload_date", "duration", "webpage_url", "extractor_key")


class CaptionsFailed(RuntimeError):
    """A captions request to retry later (rate limit, transient fault): the job fails and
    Snakemake retries it; the video is never passed on to the audio road for it."""


def nothing_to_ask(url: str) -> tuple[str, str] | None:
    """Why the pass has nothing to ask for this address, as (status, reason): the user's own
    file, or a media file's own address (a feed's enclosure); None when it has."""
    if url.startswith("file:"):
        return LOCAL, "a local file: nothing to ask for"
    if urlsplit(url).path.lower().endswith(MEDIA_SUFFIXES):
        return MEDIA, "a media file's own address: nothing to ask for"
    return None


def asks(url: str) -> bool:
    """Whether the pass has anything to ask for this address. A pure function of the address,
    so the workflow gives the other videos no captions job at all (rules/common.smk)."""
    return nothing_to_ask(url) is None


def anonymous(settings: CaptionsPass) -> Account:
    return Account(IDENTITY, delay=tuple(settings.pacing.delay), floor=settings.pacing.floor)


def plan(settings: CaptionsPass) -> pace.Plan:
    return pace.Plan(delay=tuple(settings.pacing.delay), floor=settings.pacing.floor)


def _record(vid: str, url: str, status: str, reason: str | None = None, **more: Any) -> dict[str, Any]:
    return {"vid": vid, "source": redact(url), "status": status, "reason": reason, "info": {}, "tracks": [],
            "available": {"human": [], "automatic": []}, **more}  # fmt: skip


def run(
    *,
    vid: str,
    url: str,
    out: str | Path,
    state_root: str | Path,
    settings: CaptionsPass,
    langs: tuple[str, ...],
    options: DownloadOptions,
    adaptive: Adaptive,
    socket_timeout: float = 30.0,
    fetcher: FetcherFactory = ytdlp.CaptionsFetcher,
) -> dict[str, Any]:
    """Ask for one video's info and captions; write `captions.json` atomically. Rate limits and
    transient faults raise CaptionsFailed (the job is retried), an environment fault counts
    towards the environment stop; anything else is recorded and the video goes on."""
    out = Path(out)
    if not settings.enabled:
        return _finish(out, _record(vid, url, OFF, "captions.enabled is off"))
    if nothing := nothing_to_ask(url):
        return _finish(out, _record(vid, url, *nothing))
    state_root = Path(state_root)
    envstop.check(state_root, options.environment_failures)  # a broken environment sends nothing
    workdir = out.parent / WORK
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    record = _record(vid, url, OK)
    fetch = fetcher(url, workdir, anonymous(settings), socket_timeout, list(langs), dict(options.ytdlp))
    try:
        with fetch, pace.wait_turn(IDENTITY, state_root / "captions", plan(settings)) as turn:
            log.info("%s: asking for the captions of %s", vid, redact(url))
            began = time.time()
            try:
                info, tracks, _warnings = fetch()
            except Exception as exc:  # yt-dlp raises DownloadError and friends
                outcome = outcomes.for_address(outcomes.classify(exc), url)
                now = time.time()
                record["timings"] = turn.timings() | {"seconds": round(now - began, 3)}
                return _failed(vid, url, out, record, outcome, turn, state_root, options, adaptive)
            now = time.time()
            health.on_success(turn.state, adaptive, now)
            envstop.record_success(state_root)
            record["timings"] = turn.timings() | {"seconds": round(now - began, 3)}
            record["info"] = {key: info.get(key) for key in INFO}
            record["info"]["channel"] = record["info"]["channel"] or record["info"].pop("uploader")
            record["info"].pop("uploader", None)
            record["available"] = {"human": sorted(info.get("subtitles") or {}),
                                   "automatic": sorted(info.get("automatic_captions") or {})}  # fmt: skip
            record["tracks"] = _readable(vid, tracks)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    kinds = ", ".join(f"{t['kind']} {t['lang']} ({t['ext']})" for t in record["tracks"]) or "no captions"
    log.info("%s: %s", vid, kinds)
    return _finish(out, record)


def _readable(vid: str, tracks: dict[str, tuple[str, str, Path]]) -> list[dict[str, Any]]:
    """The fetched tracks as WebVTT, the first of each kind in the languages' order."""
    kept: list[dict[str, Any]] = []
    for lang, (kind, ext, path) in tracks.items():
        if any(t["kind"] == kind for t in kept):
            continue
        try:
            text, served = captions.as_webvtt(path, ext)
        except captions.CaptionsUnreadable as error:
            log.warning("%s: the %s %s captions cannot be read (%s)", vid, kind, lang, error)
            continue
        kept.append({"kind": kind, "lang": lang, "ext": served, "webvtt": text})
    return kept


def _failed(vid: str, url: str, out: Path, record: dict[str, Any], outcome: outcomes.Outcome, turn: pace.Turn,
            state_root: Path, options: DownloadOptions, adaptive: Adaptive) -> dict[str, Any]:  # fmt: skip
    now = time.time()
    reason = redact(outcome.reason)
    if outcome.kind == outcomes.UNAVAILABLE:
        log.warning("%s: unavailable: %s", vid, reason)
        return _finish(out, record | {"status": UNAVAILABLE, "reason": reason, "reason_class": outcome.reason_class})
    if outcome.kind in (outcomes.NEEDS_ACCOUNT, outcomes.AUTH_FAILED):
        log.warning("%s: refused without an account (%s); the audio road asks with one", vid, reason)
        return _finish(out, record | {"status": NEEDS_ACCOUNT, "reason": reason,
                                      "reason_class": outcome.reason_class})  # fmt: skip
    if outcome.kind == outcomes.ENVIRONMENT:
        log.error("%s: environment failure (%s): %s. Fix: %s", vid, outcome.reason_class, reason, outcome.fix)
        if envstop.record_failure(state_root, vid, outcome, options.environment_failures):
            raise envstop.EnvironmentStop(envstop.message(envstop.current(state_root), envstop.JOB_LEAD)) from None
    elif outcome.kind == outcomes.RATE_LIMITED:
        health.on_rate_limited(turn.state, adaptive, now, outcome.retry_after)
        log.error("%s: the captions pass is rate limited (%s); its gaps now x%.2f", vid, reason,
                  health.multiplier(turn.state))  # fmt: skip
    else:
        health.on_transient(turn.state, now)
        log.error("%s: transient failure asking for captions: %s", vid, reason)
    raise CaptionsFailed(f"{vid}: captions: {outcome.kind}: {reason}")


def _finish(out: Path, record: dict[str, Any]) -> dict[str, Any]:
    record["finished"] = round(time.time(), 3)
    atomic.write_json(out, record)
    return record


def _recorded(record: str, write: bool, heading: str, found: Callable[[], list[str]]) -> frozenset[str]:
    """The videos a record file lists (one file, read once per parse); without one, and with
    `write` (the main process of this release's first run), `found()` written to it as they are
    on disk now: a full or read-only disk leaves it unwritten, and this run still knows them."""
    try:
        lines = (line.strip() for line in Path(record).read_text().splitlines())
        return frozenset(line for line in lines if line and not line.startswith("#"))
    except FileNotFoundError:
        pass
    if not write:
        return frozenset()
    vids = sorted(found())
    try:
        atomic.write_text(record, f"# {heading}\n" + "".join(f"{vid}\n" for vid in vids))
    except OSError as error:
        log.warning("cannot write %s (%s)", record, error)
    return frozenset(vids)


def downloaded_before(results: str, record: str, write: bool) -> frozenset[str]:
    """The videos downloaded before the captions pass existed: their download jobs keep the
    inputs they were made with, so a batch begun with an earlier claimflow does only what is
    missing. The first run of a release with the pass makes `record` from what is on disk then,
    even when nothing is (a batch begun with this release never has such videos)."""
    heading = "downloaded before the captions pass existed: no captions.json input"
    return _recorded(record, write, heading, lambda: downloads_on_disk(results))


def asked_before(results: str, record: str, write: bool) -> frozenset[str]:
    """The videos downloaded with the captions pass's record as an input: those with both a
    captions.json and a download.json when this release first ran on the batch. Their downloads
    keep that input even where the pass would not ask now: a945f25 asked about local files and
    media addresses, later releases do not, and without this every such download (and all after
    it) would run again."""

    def asked() -> list[str]:
        return [vid for vid in downloads_on_disk(results) if os.path.exists(os.path.join(results, vid, layout.FOUND))]

    return _recorded(record, write, "downloaded with captions.json as an input: kept as one", asked)


def downloads_on_disk(results: str) -> list[str]:
    """The video folders of `results` that hold a download.json (one directory scan)."""
    try:
        with os.scandir(results) as entries:
            return [e.name for e in entries if e.is_dir() and os.path.exists(os.path.join(e.path, layout.DOWNLOAD))]
    except FileNotFoundError:
        return []

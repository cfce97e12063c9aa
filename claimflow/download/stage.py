"""The download stage: one video's audio, paced per account, into a manifest.

The fetcher (claimflow/download/ytdlp.py, or benchmark mode's stand-in: claimflow/parts) is
prepared before the account's turn and called inside it; the file lands under one fixed name,
`audio`, only once complete.

The job downloads with the account it booked. If that account is disabled or paused, or
its cookies are refused during this job, the video fails over to the other accounts,
still paced under their locks; the account slots are the scheduler's plan, the locks are
the guarantee.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from claimflow.core import atomic, layout, notify
from claimflow.core.logs import redact
from claimflow.core.settings import CaptionsPass, DownloadOptions, Pacing
from claimflow.download import buffer, captions, captionspass, envstop, gate, health, outcomes, pace, roads, ytdlp
from claimflow.download.accounts import Account, check_cookie_file, pacing_of, read_states

log = logging.getLogger(__name__)

# What fetches one video inside its account's turn: ytdlp.Fetcher's signature (url, workdir,
# account, socket_timeout, captions, passthrough), a context manager called once for
# (info, audio file, warnings). Benchmark mode gives a stand-in (claimflow/parts).
FetcherFactory = Callable[..., Any]


class DownloadFailed(RuntimeError):
    """A download that should be retried later (rate limit, transient fault)."""

    def __init__(self, outcome: outcomes.Outcome, account: str):
        super().__init__(f"{account}: {outcome.kind}: {outcome.reason}")
        self.outcome = outcome


class AllAccountsDisabled(RuntimeError):
    pass


class NeedsAccount(Exception):
    """This account may not see the video (age, membership, region); another might."""

    def __init__(self, outcome: outcomes.Outcome, account: str):
        super().__init__(f"{account}: {outcome.reason}")
        self.outcome, self.account = outcome, account


def _count_attempt(path: Path) -> int:
    """Attempts survive failed jobs (Snakemake removes only declared outputs)."""
    try:
        attempt = int(path.read_text()) + 1
    except (FileNotFoundError, ValueError):
        attempt = 1
    atomic.write_text(path, str(attempt))
    return attempt


@dataclass
class Job:
    vid: str
    url: str
    audio_out: Path
    manifest_out: Path
    state_dir: Path
    pacing: Pacing
    results_dir: Path | None
    captions_out: Path | None = None
    captions_langs: tuple[str, ...] | None = None
    options: DownloadOptions | None = None
    fetcher: FetcherFactory = ytdlp.Fetcher

    @property
    def state_root(self) -> Path:
        return self.state_dir.parent  # state/accounts -> state

    @property
    def environment_failures(self) -> int:
        return self.options.environment_failures if self.options else 3

    def plan(self, account: Account) -> pace.Plan:
        limits = self.pacing.buffer
        factor = None
        if self.results_dir is not None:
            results = self.results_dir

            def factor() -> float | None:
                return buffer.factor(buffer.count(results), limits)

        own = pacing_of(account, self.pacing)
        return pace.Plan(
            delay=own.delay,
            warmup=own.warmup,
            floor=own.floor,
            buffer_factor=factor,
            buffer_poll=limits.poll,
            buffer_max_wait=limits.max_wait,
        )


def _disabled(job: Job, name: str, reason: str) -> None:
    notify.emit(job.state_root, notify.ACCOUNT, f"claimflow: account {name} disabled",
                f"Account {name} was disabled while downloading {job.vid}: {redact(reason)}. Its downloads go to "
                "the other accounts. Fix: export its cookies again (the same file name); the account comes back "
                "by itself at the next download once the file is replaced.")  # fmt: skip


def _paused(job: Job, name: str, seconds: float, reason: str) -> None:
    notify.emit(job.state_root, notify.ACCOUNT, f"claimflow: account {name} paused",
                f"Account {name} was rate limited again and again ({redact(reason)}): paused for "
                f"{seconds / 60:.0f} minutes, its pace slowed. The other accounts go on; nothing to do unless "
                "it keeps happening (then: fewer accounts' downloads at once, or a slower pacing).")  # fmt: skip


def _try_account(job: Job, account: Account, manifest: dict[str, Any], allow_paused: bool) -> dict[str, Any] | None:
    """One download attempt with `account`. Returns the manifest, or None when the account's
    cookies were refused (it is now disabled and the caller fails over)."""
    check_cookie_file(account)
    adaptive = job.pacing.adaptive
    workdir = job.audio_out.parent / layout.DOWNLOAD_WORK
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    plan = job.plan(account)
    langs = list(job.captions_langs) if job.captions_out and job.captions_langs else None
    passthrough = dict(job.options.ytdlp) if job.options else None
    fetch = job.fetcher(job.url, workdir, account, job.pacing.socket_timeout, langs, passthrough)
    try:
        with (
            fetch,
            pace.wait_turn(
                account.name, job.state_dir, plan, cookies=account.cookies, allow_paused=allow_paused
            ) as turn,
        ):
            log.info("%s: downloading %s with %s", job.vid, redact(job.url), account.describe())
            began = time.time()
            try:
                info, audio, warnings = fetch()
            except Exception as exc:  # yt-dlp raises DownloadError and friends
                outcome = outcomes.for_address(outcomes.classify(exc), job.url)
                now = time.time()
                manifest["timings"] = turn.timings() | {"download_seconds": round(now - began, 3)}
                if outcome.kind == outcomes.UNAVAILABLE:
                    turn.state.update(last_outcome="unavailable", last_outcome_at=now)
                    log.warning("%s: unavailable: %s", job.vid, redact(outcome.reason))
                    return _unavailable(job, manifest, outcome, account.name)
                if outcome.kind == outcomes.NEEDS_ACCOUNT:
                    turn.state.update(last_outcome="needs_account", last_outcome_at=now)
                    log.warning("%s: %s refused with %s (%s); trying another account", job.vid,
                                outcome.reason_class, account.name, redact(outcome.reason))  # fmt: skip
                    raise NeedsAccount(outcome, account.name) from None
                if outcome.kind == outcomes.ENVIRONMENT:
                    # Not the account's fault and not the video's: no health change, no verdict.
                    turn.state.update(last_outcome="environment", last_outcome_at=now)
                    log.error("%s: environment failure (%s): %s. Fix: %s", job.vid, outcome.reason_class,
                              redact(outcome.reason), outcome.fix)  # fmt: skip
                    if envstop.record_failure(job.state_root, job.vid, outcome, job.environment_failures):
                        raise envstop.EnvironmentStop(
                            envstop.message(envstop.current(job.state_root), envstop.JOB_LEAD)
                        ) from None
                    raise DownloadFailed(outcome, account.name) from None
                if outcome.kind == outcomes.AUTH_FAILED:
                    health.on_auth_failed(turn.state, redact(outcome.reason), now, health.cookie_mtime(account.cookies))
                    log.error("%s: account %s DISABLED: %s", job.vid, account.name, redact(outcome.reason))
                    _disabled(job, account.name, outcome.reason)
                    return None
                if outcome.kind == outcomes.RATE_LIMITED:
                    pauses = turn.state.get("pauses", 0)
                    health.on_rate_limited(turn.state, adaptive, now, outcome.retry_after)
                    log.error("%s: %s rate limited (%s); multiplier now x%.2f%s", job.vid, account.name,
                              redact(outcome.reason), health.multiplier(turn.state),
                              " and paused" if turn.state.get("paused_until", 0) > now else "")  # fmt: skip
                    if turn.state.get("pauses", 0) > pauses:
                        _paused(job, account.name, turn.state["paused_until"] - now, outcome.reason)
                else:
                    health.on_transient(turn.state, now)
                    log.error("%s: transient failure with %s: %s", job.vid, account.name, redact(outcome.reason))
                raise DownloadFailed(outcome, account.name) from None
            now = time.time()
            health.on_success(turn.state, adaptive, now)
            envstop.record_success(job.state_root)
            stale = [w for w in warnings if outcomes.cookies_rejected(w)]
            if stale:
                # The download went through (anonymously), but the account's session is gone.
                health.on_auth_failed(turn.state, redact(stale[0])[:200], now, health.cookie_mtime(account.cookies))
                log.error("%s: account %s DISABLED: %s", job.vid, account.name, redact(stale[0]))
                _disabled(job, account.name, stale[0][:200])
            with atomic.atomic_path(job.audio_out) as tmp:
                shutil.move(audio, tmp)
            manifest.update(status="ok", reason=None, account=account.name, **ytdlp.select_info(info))
            _keep_captions(job, info, manifest)
            manifest["timings"] = turn.timings() | {"download_seconds": round(now - began, 3)}
            return manifest
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _read_found(found: str | Path | None) -> dict[str, Any] | None:
    if found is None:
        return None
    try:
        return atomic.read_json(found)
    except (OSError, ValueError) as error:
        log.warning("the captions pass record %s cannot be read (%s); the audio road", found, error)
        return None


def _captions_road(job: Job, manifest: dict[str, Any], found: dict[str, Any], road: roads.Road) -> dict[str, Any]:
    """The video's captions make its transcript: they are written as `captions.vtt`, the audio
    is empty, and no account is asked."""
    track = road.track or {}
    log.info("%s: the captions road: %s; no audio is downloaded", job.vid, road.reason)
    if job.captions_out is not None:
        atomic.write_text(job.captions_out, str(track.get("webvtt") or ""))
    atomic.write_text(job.audio_out, "")
    info = found.get("info") or {}
    picked = {key: info.get(key) for key in ("title", "channel", "duration", "upload_date", "webpage_url",
                                             "extractor_key")}  # fmt: skip
    manifest.update(status="ok", reason=None, account=None, road=roads.CAPTIONS, road_reason=road.reason, **picked)
    manifest["captions"] = {"lang": track.get("lang"), "ext": track.get("ext"), "kind": track.get("kind")}
    return manifest


def _unavailable(job: Job, manifest: dict[str, Any], outcome: outcomes.Outcome, account: str | None) -> dict[str, Any]:
    manifest.update(status="unavailable", reason=redact(outcome.reason), reason_class=outcome.reason_class,
                    account=account)  # fmt: skip
    atomic.write_text(job.audio_out, "")
    _keep_captions(job, {}, manifest)
    return manifest


def _keep_captions(job: Job, info: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Keep the human-made subtitles yt-dlp fetched (if any) as the fixed `captions.vtt` output:
    WebVTT as served, SRT and TTML converted to WebVTT (the manifest's `ext` says which format it
    came in). An empty file says there were none, or none that can be read."""
    if job.captions_out is None:
        return
    manifest["captions"] = None
    for lang, sub in (info.get("requested_subtitles") or {}).items():
        path = Path(sub.get("filepath") or "")
        if not (path.is_file() and path.stat().st_size):
            continue
        try:
            text, served = captions.as_webvtt(path, str(sub.get("ext") or path.suffix.lstrip(".")))
        except captions.CaptionsUnreadable as error:
            log.warning("%s: the %s captions were fetched but cannot be read (%s); Whisper will transcribe",
                        job.vid, lang, error)  # fmt: skip
            continue
        atomic.write_text(job.captions_out, text)
        manifest["captions"] = {"lang": lang, "ext": served, "kind": roads.HUMAN}
        return
    atomic.write_text(job.captions_out, "")


def _candidates(booked: str | None, accounts: list[Account], state_dir: Path) -> list[Account]:
    """The booked account first, then the others, least recently used first."""
    states = read_states(state_dir, [a.name for a in accounts])
    others = sorted((a for a in accounts if a.name != booked), key=lambda a: states[a.name].get("last_start") or 0)
    return [a for a in accounts if a.name == booked] + others


def run(
    *,
    vid: str,
    url: str,
    booked: str | None,
    accounts: list[Account],
    audio_out: str | Path,
    manifest_out: str | Path,
    state_dir: str | Path,
    pacing: Pacing,
    results_dir: str | Path | None = None,
    captions_out: str | Path | None = None,
    captions_langs: tuple[str, ...] | None = None,
    options: DownloadOptions | None = None,
    fetcher: FetcherFactory = ytdlp.Fetcher,
    found: str | Path | None = None,
    roads_settings: CaptionsPass | None = None,
) -> dict[str, Any]:
    """Download one video; write `audio` and `download.json` atomically.

    `booked`: the account whose slot the job holds; None when the scheduler saw that the video
    needs no turn (claimflow/download/roads.py takes_a_turn). Should such a video need one after
    all, it takes the least recently used account: the account's lock still keeps its gap.

    `found`: the video's captions pass record (captions.json; None for a video downloaded before
    the pass existed). When its captions are usable (claimflow/download/roads.py), the video
    takes the captions road: its captions are written, `audio` is empty, and no account's turn
    is taken. An unavailable video completes with status `unavailable` (and an empty `audio`),
    so the batch goes on; rate limits and transient faults raise DownloadFailed and Snakemake
    retries the job; refused cookies disable the account and the video fails over.
    """
    job = Job(vid, url, Path(audio_out), Path(manifest_out), Path(state_dir), pacing,
              Path(results_dir) if results_dir else None,
              Path(captions_out) if captions_out else None, captions_langs, options, fetcher)  # fmt: skip
    record = _read_found(found)
    manifest: dict[str, Any] = {"vid": vid, "source": redact(url), "booked": booked}
    manifest["job"] = {"started": round(time.time(), 3)}
    if found is None and roads_settings is not None:
        manifest.update(road=roads.AUDIO, road_reason="nothing to ask for captions (a local file or a media address)")
    if found is not None:
        asks = None
        if roads_settings is not None:
            gate_settings = roads_settings.gate

            def asks(channel: str) -> str:
                return gate.verdict(job.state_root, channel, vid, gate_settings)

        road = roads.choose(record, roads_settings, job.captions_langs is not None, asks) if roads_settings else None
        # What the scheduler was told (roads.takes_a_turn) must agree: no turn, no slot booked.
        if record and record.get("status") == captionspass.UNAVAILABLE:
            # The video's own property, found without an account: no turn is spent on it.
            outcome = outcomes.Outcome(outcomes.UNAVAILABLE, str(record.get("reason")),
                                       reason_class=record.get("reason_class"))  # fmt: skip
            log.warning("%s: unavailable (captions pass): %s", vid, redact(outcome.reason))
            return _finish(job, _unavailable(job, manifest | {"road": roads.AUDIO}, outcome, None), [])
        if road is not None and road.name == roads.CAPTIONS and road.track is not None:
            return _finish(job, _captions_road(job, manifest, record or {}, road), [])
        manifest["road"] = roads.AUDIO
        manifest["road_reason"] = road.reason if road else "captions pass off"
        if road is not None and road.gate_sample:
            manifest["gate_sample"] = road.gate_sample
    # Before any request: a run whose environment is broken sends none.
    envstop.check(job.state_root, job.environment_failures)
    manifest["attempts"] = _count_attempt(job.audio_out.parent / layout.ATTEMPTS)
    manifest["ytdlp"] = ytdlp.provenance()
    if (unusable_file := local_file_problem(url)) is not None:
        # The user's own file can be read with no account and no pacing: a file that holds no
        # audio is a property of the input, recorded with the reason and passed on.
        log.warning("%s: unavailable: %s", vid, unusable_file.reason)
        return _finish(job, _unavailable(job, manifest, unusable_file, booked), [])
    unusable: list[pace.AccountUnusable] = []
    refused: list[NeedsAccount] = []
    for account in _candidates(booked, accounts, job.state_dir):
        try:
            result = _try_account(job, account, manifest, allow_paused=False)
        except pace.AccountUnusable as skipped:
            log.warning("%s: skipping %s", vid, redact(str(skipped)))
            unusable.append(skipped)
            continue
        except NeedsAccount as refusal:
            refused.append(refusal)
            continue
        if result is None:
            unusable.append(pace.AccountUnusable(account.name, "disabled: cookies refused"))
            continue
        if refused:
            result["refused_by"] = {r.account: r.outcome.reason_class for r in refused}
        return _finish(job, result, unusable)
    paused = sorted((u for u in unusable if u.until), key=lambda u: u.until or 0)
    if refused and not paused:
        return _finish(job, _refused_everywhere(job, manifest, refused), unusable)
    if paused:
        # Every usable account is pausing: wait for the one whose pause ends first.
        account = next(a for a in accounts if a.name == paused[0].account)
        log.warning("%s: all accounts paused or disabled; waiting for %s", vid, account.name)
        try:
            result = _try_account(job, account, manifest, allow_paused=True)
        except NeedsAccount as refusal:
            return _finish(job, _refused_everywhere(job, manifest, [*refused, refusal]), unusable)
        if result is not None:
            return _finish(job, result, unusable)
    reasons = "; ".join(f"{u.account}: {u.reason}" for u in unusable)
    raise AllAccountsDisabled(
        f"claimflow: every download account is disabled ({redact(reasons)}). Finished work is kept. "
        "Export fresh cookies for these accounts (replacing a cookie file re-enables its account) "
        "or add accounts to the config, then run the same command again."
    )


def local_file_problem(url: str) -> outcomes.Outcome | None:
    """For a local file (file://): why it cannot be a video's audio, or None when it can.
    Empty, or no audio stream PyAV (faster-whisper's decoder) can open: both permanent."""
    if not url.startswith("file:"):
        return None
    path = Path(unquote(urlsplit(url).path))
    fix = "replace it with a media file, then `claimflow unavailable --retry {}` and the same command again"
    try:
        size = path.stat().st_size
    except OSError:
        return None  # gone since the batch was read (an unmounted disk?): not the file's property
    if size == 0:
        return outcomes.Outcome(outcomes.UNAVAILABLE, f"{path.name} is empty (0 bytes); {fix.format('empty_file')}",
                                reason_class="empty_file")  # fmt: skip
    import av  # PyAV loads FFmpeg's libraries: only for a local file

    try:
        with av.open(str(path)) as container:
            has_audio = bool(container.streams.audio)
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        detail = getattr(error, "strerror", None) or type(error).__name__
        return outcomes.Outcome(outcomes.UNAVAILABLE, f"{path.name} is not a media file ({detail}); "
                                f"{fix.format('not_media')}", reason_class="not_media")  # fmt: skip
    if not has_audio:
        return outcomes.Outcome(outcomes.UNAVAILABLE, f"{path.name} has no audio stream; {fix.format('not_media')}",
                                reason_class="not_media")  # fmt: skip
    return None


def _refused_everywhere(job: Job, manifest: dict[str, Any], refused: list[NeedsAccount]) -> dict[str, Any]:
    """Every account that can download was refused (age, membership, region): now it is the
    video's property, recorded with the accounts that were tried."""
    tried = ", ".join(r.account for r in refused)
    last = refused[-1].outcome
    outcome = outcomes.Outcome(outcomes.UNAVAILABLE, f"{last.reason} (refused for accounts: {tried})",
                               reason_class=last.reason_class)  # fmt: skip
    manifest["refused_by"] = {r.account: r.outcome.reason_class for r in refused}
    return _unavailable(job, manifest, outcome, refused[-1].account)


def _finish(job: Job, manifest: dict[str, Any], skipped: list[pace.AccountUnusable]) -> dict[str, Any]:
    if skipped:
        manifest["failover_from"] = [u.account for u in skipped]
    manifest["job"]["finished"] = round(time.time(), 3)
    atomic.write_json(job.manifest_out, manifest)
    return manifest

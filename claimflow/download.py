"""The download stage: one video through yt-dlp, paced per account, into a manifest.

yt-dlp runs through its Python API with `bestaudio` and no post-processing: the audio is
kept in the container the site serves (faster-whisper decodes it through PyAV, so no
ffmpeg is needed). The file lands under one fixed name, `audio`, only once complete.

The job downloads with the account it booked. If that account is disabled or paused, or
its cookies are refused during this job, the video fails over to the other accounts,
still paced under their locks; the account slots are the scheduler's plan, the locks are
the guarantee.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow import atomic, benchmode, buffer, cookies, envstop, health, outcomes, pace, subtitles
from claimflow.accounts import Account, check_cookie_file, read_states
from claimflow.logs import redact
from claimflow.settings import DownloadOptions, Pacing

log = logging.getLogger(__name__)

INFO_FIELDS = (
    "id", "title", "channel", "uploader", "duration", "upload_date", "webpage_url",
    "extractor_key", "ext", "acodec", "abr", "asr", "format_id", "filesize", "language",
)  # fmt: skip


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


class _YtdlpLogger:
    """Route yt-dlp's messages into our log, masked, and remember its warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def debug(self, msg: str) -> None:
        if not msg.startswith("[debug] "):
            log.debug(redact(msg))

    def info(self, msg: str) -> None:
        log.info(redact(msg))

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning(redact(msg))

    def error(self, msg: str) -> None:
        log.error(redact(msg))


# Caption formats in order of preference: WebVTT and SRT are read as they are, TTML/DFXP through
# yt-dlp's own converter (claimflow/subtitles.py); yt-dlp falls back to what the site has.
CAPTION_FORMATS = "vtt/srt/ttml/dfxp"


def ytdlp_options(
    account: Account,
    workdir: Path,
    socket_timeout: float,
    captions: list[str] | None = None,
    passthrough: dict[str, Any] | None = None,
    cookiefile: str | None = None,
    local_file: bool = False,
) -> dict[str, Any]:
    """yt-dlp's options for one request of `account`. `cookiefile` is the job's private copy of
    the account's cookies (claimflow/cookies.py: yt-dlp writes its jar back to the file it is
    given), never the user's export. `local_file`: the URL is the user's own file:// source;
    for anything else file:// stays off, so no page a site serves can make yt-dlp read a local
    file."""
    opts: dict[str, Any] = {
        "format": "bestaudio/best",
        "outtmpl": str(workdir / "audio.%(ext)s"),
        "noplaylist": True,
        "enable_file_urls": local_file,
        "socket_timeout": socket_timeout,
        # One try per job: retries are paced by the account state, not fired back to back.
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "noprogress": True,
        "quiet": True,
        "overwrites": True,
        "continuedl": False,
        "cachedir": False,
    }
    if captions:
        # Human-made subtitles only: automatic captions are machine transcripts, no better
        # than Whisper's, and would hide that fact.
        opts.update(writesubtitles=True, writeautomaticsub=False, subtitleslangs=captions,
                    subtitlesformat=CAPTION_FORMATS)  # fmt: skip
    if cookiefile:
        opts["cookiefile"] = cookiefile
    if account.proxy:
        opts["proxy"] = account.proxy
    if runtime := bundled_js_runtime():
        # The Deno that came with the environment, whatever the PATH of a cluster job says.
        opts["js_runtimes"] = {"deno": {"path": runtime}}
    opts.update(passthrough_options(passthrough or {}))
    return opts


def bundled_js_runtime() -> str | None:
    """The Deno binary installed into the environment by the `deno` package, if any."""
    try:
        import deno
    except ImportError:
        return None
    path = deno.find_deno_bin()
    return str(path) if path and Path(path).is_file() else None


# download.ytdlp: yt-dlp options a user may pass through (the schema allows only these).
# Never the output template, format, post-processing or retries: the file contract and the
# pacing depend on them.
PASSTHROUGH = ("extractor_args", "impersonate", "sleep_interval_requests", "geo_bypass_country",
               "source_address", "plugin_dirs")  # fmt: skip


def passthrough_options(ytdlp: dict[str, Any]) -> dict[str, Any]:
    unknown = set(ytdlp) - set(PASSTHROUGH)
    if unknown:  # the schema refuses these at start; a direct caller gets the same answer
        raise ValueError(f"download.ytdlp: {', '.join(sorted(unknown))} cannot be passed to yt-dlp here")
    opts = {k: v for k, v in ytdlp.items() if k not in ("impersonate", "plugin_dirs")}
    if ytdlp.get("impersonate"):
        from yt_dlp.networking.impersonate import ImpersonateTarget

        opts["impersonate"] = ImpersonateTarget.from_str(ytdlp["impersonate"])
    if ytdlp.get("plugin_dirs"):
        # yt-dlp reads plugin folders from a process-wide setting before its extractors load.
        from yt_dlp.globals import plugin_dirs

        plugin_dirs.value = ["default", *(str(Path(d).expanduser()) for d in ytdlp["plugin_dirs"])]
    return opts


def ytdlp_provenance() -> dict[str, Any]:
    """yt-dlp's version and its JavaScript runtime, for download.json."""
    from importlib.metadata import PackageNotFoundError, version

    import yt_dlp

    try:
        ejs = version("yt-dlp-ejs")
    except PackageNotFoundError:
        ejs = None
    runtime = bundled_js_runtime()
    if runtime:
        from yt_dlp.globals import supported_js_runtimes

        info = supported_js_runtimes.value["deno"](path=runtime).info
        runtime = f"deno {info.version}" if info else None
    return {"version": yt_dlp.version.__version__, "js_runtime": runtime, "ejs": ejs}


class Fetcher:
    """One prepared yt-dlp call. Everything slow (building YoutubeDL, matching the URL to an
    extractor) happens before the account's turn, so the first request goes out right when
    the pacing allows, and the cookie jar is written back (into the job's private copy) before
    the turn ends. A context manager: leaving it removes that copy."""

    def __init__(
        self,
        url: str,
        workdir: Path,
        account: Account,
        socket_timeout: float = 30.0,
        captions: list[str] | None = None,
        passthrough: dict[str, Any] | None = None,
    ):
        import yt_dlp
        from yt_dlp.extractor import gen_extractor_classes

        self.url = url
        self.logger = _YtdlpLogger()
        self._stack = contextlib.ExitStack()
        jar = self._stack.enter_context(cookies.private_copy(account.cookies))
        opts = ytdlp_options(account, workdir, socket_timeout, captions, passthrough, cookiefile=jar,
                             local_file=url.startswith("file:"))  # fmt: skip
        opts["logger"] = self.logger
        self.ydl = yt_dlp.YoutubeDL(opts)
        self._stack.callback(self.ydl.close)  # saves the jar into the private copy, then it goes
        self.ie_key = next((ie.ie_key() for ie in gen_extractor_classes() if ie.suitable(url)), None)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def __call__(self) -> tuple[dict, Path, list[str]]:
        """Download the best audio; return the info, the file, and yt-dlp's warnings."""
        try:
            info = self.ydl.sanitize_info(self.ydl.extract_info(self.url, download=True, ie_key=self.ie_key))
        finally:
            self._stack.close()  # the jar saved and its copy removed: still inside the account's turn
        downloads = info.get("requested_downloads") or []
        if not downloads or not Path(downloads[0]["filepath"]).is_file():
            raise RuntimeError("yt-dlp reported success but wrote no audio file")
        return info, Path(downloads[0]["filepath"]), self.logger.warnings


def select_info(info: dict[str, Any]) -> dict[str, Any]:
    picked = {key: info.get(key) for key in INFO_FIELDS}
    picked["channel"] = picked["channel"] or picked.pop("uploader")
    picked.pop("uploader", None)
    return picked


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
    sleep: float | None = None  # benchmark mode only (claimflow.benchmode)

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

        return pace.Plan(
            delay=account.delay or self.pacing.delay,
            warmup=self.pacing.warmup,
            floor=account.floor if account.floor is not None else self.pacing.floor,
            buffer_factor=factor,
            buffer_poll=limits.poll,
            buffer_max_wait=limits.max_wait,
        )


def _try_account(job: Job, account: Account, manifest: dict[str, Any], allow_paused: bool) -> dict[str, Any] | None:
    """One download attempt with `account`. Returns the manifest, or None when the account's
    cookies were refused (it is now disabled and the caller fails over)."""
    check_cookie_file(account)
    adaptive = job.pacing.adaptive
    workdir = job.audio_out.parent / ".download"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    plan = job.plan(account)
    captions = list(job.captions_langs) if job.captions_out and job.captions_langs else None
    passthrough = dict(job.options.ytdlp) if job.options else None
    if job.sleep is not None:  # benchmark mode: the real turn around a sleep
        fetch = benchmode.SleepFetcher(job.url, workdir, job.sleep)
    else:
        fetch = Fetcher(job.url, workdir, account, job.pacing.socket_timeout, captions, passthrough)
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
                    return None
                if outcome.kind == outcomes.RATE_LIMITED:
                    health.on_rate_limited(turn.state, adaptive, now, outcome.retry_after)
                    log.error("%s: %s rate limited (%s); multiplier now x%.2f%s", job.vid, account.name,
                              redact(outcome.reason), health.multiplier(turn.state),
                              " and paused" if turn.state.get("paused_until", 0) > now else "")  # fmt: skip
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
            with atomic.atomic_path(job.audio_out) as tmp:
                shutil.move(audio, tmp)
            manifest.update(status="ok", reason=None, account=account.name, **select_info(info))
            _keep_captions(job, info, manifest)
            manifest["timings"] = turn.timings() | {"download_seconds": round(now - began, 3)}
            return manifest
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _unavailable(job: Job, manifest: dict[str, Any], outcome: outcomes.Outcome, account: str) -> dict[str, Any]:
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
            text, served = subtitles.as_webvtt(path, str(sub.get("ext") or path.suffix.lstrip(".")))
        except subtitles.CaptionsUnreadable as error:
            log.warning("%s: the %s captions were fetched but cannot be read (%s); Whisper will transcribe",
                        job.vid, lang, error)  # fmt: skip
            continue
        atomic.write_text(job.captions_out, text)
        manifest["captions"] = {"lang": lang, "ext": served}
        return
    atomic.write_text(job.captions_out, "")


def _candidates(booked: str, accounts: list[Account], state_dir: Path) -> list[Account]:
    """The booked account first, then the others, least recently used first."""
    states = read_states(state_dir, [a.name for a in accounts])
    others = sorted((a for a in accounts if a.name != booked), key=lambda a: states[a.name].get("last_start") or 0)
    return [a for a in accounts if a.name == booked] + others


def run(
    *,
    vid: str,
    url: str,
    booked: str,
    accounts: list[Account],
    audio_out: str | Path,
    manifest_out: str | Path,
    state_dir: str | Path,
    pacing: Pacing,
    results_dir: str | Path | None = None,
    captions_out: str | Path | None = None,
    captions_langs: tuple[str, ...] | None = None,
    options: DownloadOptions | None = None,
    sleep: float | None = None,
) -> dict[str, Any]:
    """Download one video; write `audio` and `download.json` atomically.

    An unavailable video completes with status `unavailable` (and an empty `audio`), so the
    batch goes on; rate limits and transient faults raise DownloadFailed and Snakemake
    retries the job; refused cookies disable the account and the video fails over.
    """
    job = Job(vid, url, Path(audio_out), Path(manifest_out), Path(state_dir), pacing,
              Path(results_dir) if results_dir else None,
              Path(captions_out) if captions_out else None, captions_langs, options, sleep)  # fmt: skip
    # Before any request: a run whose environment is broken sends none.
    envstop.check(job.state_root, job.environment_failures)
    attempt = _count_attempt(job.audio_out.parent / ".attempts")
    manifest: dict[str, Any] = {"vid": vid, "source": redact(url), "booked": booked, "attempts": attempt}
    manifest["job"] = {"started": round(time.time(), 3)}
    manifest["ytdlp"] = ytdlp_provenance()
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
    from urllib.parse import unquote, urlsplit

    path = Path(unquote(urlsplit(url).path))
    fix = "replace it with a media file, then `claimflow unavailable --retry {}` and the same command again"
    try:
        size = path.stat().st_size
    except OSError:
        return None  # gone since the batch was read (an unmounted disk?): not the file's property
    if size == 0:
        return outcomes.Outcome(outcomes.UNAVAILABLE, f"{path.name} is empty (0 bytes); {fix.format('empty_file')}",
                                reason_class="empty_file")  # fmt: skip
    import av

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

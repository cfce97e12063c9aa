"""The download stage: one video through yt-dlp, paced per account, into a manifest.

yt-dlp runs through its Python API with `bestaudio` and no post-processing: the audio is
kept in the container the site serves (faster-whisper decodes it through PyAV, so no
ffmpeg is needed). The file lands under one fixed name, `audio`, only once complete.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from claimflow import atomic, outcomes, pace
from claimflow.accounts import Account, check_cookie_file
from claimflow.logs import redact

log = logging.getLogger(__name__)

INFO_FIELDS = (
    "id", "title", "channel", "uploader", "duration", "upload_date", "webpage_url",
    "extractor_key", "ext", "acodec", "abr", "asr", "format_id", "filesize", "language",
)  # fmt: skip


class DownloadFailed(RuntimeError):
    """A download that should be retried later (rate limit, auth, transient fault)."""

    def __init__(self, outcome: outcomes.Outcome):
        super().__init__(f"{outcome.kind}: {outcome.reason}")
        self.outcome = outcome


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


def ytdlp_options(account: Account, workdir: Path, socket_timeout: float) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "format": "bestaudio/best",
        "outtmpl": str(workdir / "audio.%(ext)s"),
        "noplaylist": True,
        "enable_file_urls": True,
        "socket_timeout": socket_timeout,
        "retries": 2,
        "fragment_retries": 2,
        "noprogress": True,
        "quiet": True,
        "overwrites": True,
        "continuedl": False,
        "cachedir": False,
    }
    if account.cookies:
        opts["cookiefile"] = str(Path(account.cookies).expanduser())
    if account.proxy:
        opts["proxy"] = account.proxy
    return opts


def fetch(url: str, workdir: Path, account: Account, socket_timeout: float = 30.0) -> tuple[dict[str, Any], Path]:
    """Download `url`'s best audio into `workdir`; return the sanitized info and the file."""
    import yt_dlp

    logger = _YtdlpLogger()
    opts = ytdlp_options(account, workdir, socket_timeout)
    opts["logger"] = logger
    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.sanitize_info(ydl.extract_info(url, download=True))
    downloads = info.get("requested_downloads") or []
    if not downloads or not Path(downloads[0]["filepath"]).is_file():
        raise RuntimeError("yt-dlp reported success but wrote no audio file")
    return info, Path(downloads[0]["filepath"])


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


def run(
    *,
    vid: str,
    url: str,
    account: Account,
    audio_out: str | Path,
    manifest_out: str | Path,
    state_dir: str | Path,
    pacing: dict[str, Any],
    socket_timeout: float = 30.0,
) -> dict[str, Any]:
    """Download one video with `account`; write `audio` and `download.json` atomically.

    An unavailable video completes with status `unavailable` (and an empty `audio`), so the
    batch goes on; other failures raise DownloadFailed and Snakemake retries the job.
    """
    check_cookie_file(account)
    audio_out, manifest_out = Path(audio_out), Path(manifest_out)
    workdir = audio_out.parent / ".download"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    delay = account.delay or tuple(pacing["delay"])
    attempt = _count_attempt(audio_out.parent / ".attempts")
    manifest: dict[str, Any] = {"vid": vid, "source": redact(url), "account": account.name, "attempts": attempt}
    log.info("%s: downloading %s with %s", vid, redact(url), account.describe())
    try:
        with pace.wait_turn(account.name, state_dir, delay, pacing.get("warmup")) as turn:
            began = time.time()
            try:
                info, audio = fetch(url, workdir, account, socket_timeout)
            except Exception as exc:  # yt-dlp raises DownloadError and friends
                outcome = outcomes.classify(exc)
                turn.state["last_outcome"] = outcome.kind
                if not outcome.permanent:
                    turn.state["failures"] = turn.state.get("failures", 0) + 1
                    log.error("%s: %s (%s)", vid, outcome.kind, redact(outcome.reason))
                    raise DownloadFailed(outcome) from None
                log.warning("%s: unavailable: %s", vid, redact(outcome.reason))
                manifest.update(status="unavailable", reason=redact(outcome.reason))
                atomic.write_text(audio_out, "")
            else:
                turn.state["last_outcome"] = "ok"
                turn.state["successes"] = turn.state.get("successes", 0) + 1
                with atomic.atomic_path(audio_out) as tmp:
                    shutil.move(audio, tmp)
                manifest.update(status="ok", reason=None, **select_info(info))
            manifest["timings"] = {
                "gap": round(turn.gap, 3),
                "waited": round(turn.waited, 3),
                "started": round(turn.started, 3),
                "download_seconds": round(time.time() - began, 3),
            }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    atomic.write_json(manifest_out, manifest)
    return manifest

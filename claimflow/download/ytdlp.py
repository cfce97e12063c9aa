"""The yt-dlp adapter: the options every request of an account is made with, the fetcher that
downloads one video's best audio (and its human-made subtitles), and what yt-dlp reports of
itself. yt-dlp runs through its Python API with `bestaudio` and no post-processing: the audio is
kept in the container the site serves (faster-whisper decodes it through PyAV, so no ffmpeg is
needed). Its messages go to the job's log, masked."""

from __future__ import annotations

import contextlib
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from claimflow.core.logs import redact
from claimflow.download import cookies
from claimflow.download.accounts import Account

log = logging.getLogger(__name__)

INFO_FIELDS = (
    "id", "title", "channel", "uploader", "duration", "upload_date", "webpage_url",
    "extractor_key", "ext", "acodec", "abr", "asr", "format_id", "filesize", "language",
)  # fmt: skip


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
# yt-dlp's own converter (claimflow/download/captions.py); yt-dlp falls back to what the site has.
CAPTION_FORMATS = "vtt/srt/ttml/dfxp"
# The captions pass asks for json3 first: YouTube serves every track in it, automatic ones
# without the rolling repeats and the markup of their WebVTT, each word with its time.
PASS_FORMATS = f"json3/{CAPTION_FORMATS}"


def options(
    account: Account,
    workdir: Path,
    socket_timeout: float,
    captions: list[str] | None = None,
    passthrough: dict[str, Any] | None = None,
    cookiefile: str | None = None,
    local_file: bool = False,
) -> dict[str, Any]:
    """yt-dlp's options for one request of `account`. `cookiefile` is the job's private copy of
    the account's cookies (claimflow/download/cookies.py: yt-dlp writes its jar back to the file it is
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
        # With the audio: human-made subtitles only (the audio is there for Whisper). Automatic
        # captions are the captions pass's, behind captions.automatic (CaptionsFetcher).
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
        import deno  # an optional package: absent, yt-dlp looks for a runtime on its own
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
        from yt_dlp.networking.impersonate import ImpersonateTarget  # yt-dlp is heavy: only where it runs

        opts["impersonate"] = ImpersonateTarget.from_str(ytdlp["impersonate"])
    if ytdlp.get("plugin_dirs"):
        # yt-dlp reads plugin folders from a process-wide setting before its extractors load.
        from yt_dlp.globals import plugin_dirs  # (heavy, as above)

        plugin_dirs.value = ["default", *(str(Path(d).expanduser()) for d in ytdlp["plugin_dirs"])]
    return opts


def provenance() -> dict[str, Any]:
    """yt-dlp's version and its JavaScript runtime, for download.json."""
    import yt_dlp  # heavy: only where a download runs

    try:
        ejs = version("yt-dlp-ejs")
    except PackageNotFoundError:
        ejs = None
    runtime = bundled_js_runtime()
    if runtime:
        from yt_dlp.globals import supported_js_runtimes  # (heavy, as above)

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
        overrides: dict[str, Any] | None = None,
    ):
        import yt_dlp  # heavy: only where a download runs
        from yt_dlp.extractor import gen_extractor_classes  # (as above)

        self.url = url
        self.logger = _YtdlpLogger()
        self._stack = contextlib.ExitStack()
        jar = self._stack.enter_context(cookies.private_copy(account.cookies))
        opts = options(account, workdir, socket_timeout, captions, passthrough, cookiefile=jar,
                             local_file=url.startswith("file:"))  # fmt: skip
        opts["logger"] = self.logger
        self.ydl = yt_dlp.YoutubeDL({**opts, **(overrides or {})})
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


class CaptionsFetcher(Fetcher):
    """The captions pass's request: the video's info and its caption tracks in `langs`, human
    and automatic, and no media (yt-dlp's skip_download). Returns the info, {lang: (kind, ext,
    file)} of the tracks written, and yt-dlp's warnings."""

    def __init__(self, url: str, workdir: Path, account: Account, socket_timeout: float = 30.0,
                 langs: list[str] | None = None, passthrough: dict[str, Any] | None = None):  # fmt: skip
        overrides = {"skip_download": True, "writeautomaticsub": True, "subtitlesformat": PASS_FORMATS,
                     "outtmpl": str(workdir / "found.%(ext)s")}  # fmt: skip
        super().__init__(url, workdir, account, socket_timeout, langs or ["en", "en-.*"], passthrough, overrides)

    def __call__(self) -> tuple[dict, dict[str, tuple[str, str, Path]], list[str]]:  # type: ignore[override]
        try:
            info = self.ydl.sanitize_info(self.ydl.extract_info(self.url, download=True, ie_key=self.ie_key))
        finally:
            self._stack.close()
        human = info.get("subtitles") or {}
        tracks = {}
        for lang, sub in (info.get("requested_subtitles") or {}).items():
            path = Path(sub.get("filepath") or "")
            if path.is_file() and path.stat().st_size:
                kind = "human" if lang in human else "automatic"
                tracks[lang] = (kind, str(sub.get("ext") or path.suffix.lstrip(".")), path)
        return info, tracks, self.logger.warnings

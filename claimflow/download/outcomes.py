"""Classify a failed download, so that nothing healthy is ever recorded as dead.

- rate_limited: the site pushes back on the account or session (HTTP 429, a bare 403, "not a
  bot", YouTube's "This content isn't available, try again later"): back off and retry.
- auth_failed: the account's cookies no longer log it in: disable the account, fail over.
- needs_account: the video may play for another account (age-restricted, members-only,
  geo-blocked: accounts differ in age verification, memberships and proxies): try the other
  accounts; only when every account was refused is it unavailable, saying which were tried.
- unavailable: a property of the video, whoever asks (private, removed, terminated,
  copyright, HTTP 404/410/451): recorded as permanent, with its reason class.
- environment: our side is broken (no JavaScript runtime, challenge solving failed, "format not
  available" on a video that has formats, an extractor error yt-dlp asks to report, an
  outdated yt-dlp, an unsupported URL): never recorded as unavailable; the job fails, and a
  run of them stops the downloads with the cause and the fix (claimflow.download.envstop).
- transient: timeouts, resets, truncated bodies, other 5xx: back off and retry.

Exception types and HTTP statuses decide first (yt-dlp keeps the cause in
`DownloadError.exc_info`); message text only where yt-dlp reports nothing structured. Order
matters, and the catalogue in tests/test_outcomes.py holds the exact messages: YouTube's
session rate limit begins "Video unavailable", and "Private video. Sign in if you've been
granted access" mentions signing in but is the video's property, not the account's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

RATE_LIMITED = "rate_limited"
AUTH_FAILED = "auth_failed"
NEEDS_ACCOUNT = "needs_account"
UNAVAILABLE = "unavailable"
ENVIRONMENT = "environment"
TRANSIENT = "transient"

_RATE_TEXT = re.compile(
    r"rate.?limit|too many requests|confirm you.?re not a bot|captcha|http error 429|"
    r"content isn.?t available, try again later",
    re.IGNORECASE,
)
_AUTH_TEXT = re.compile(
    r"cookies are no longer valid|cookies? (?:have|has) expired|invalid cookies|http error 401|"
    r"login required|authentication failed",
    re.IGNORECASE,
)
# Our environment, not the video: what a missing JS runtime, a stale yt-dlp or a broken
# extractor produce. Each reason class names the fix (ENVIRONMENT_FIXES).
_ENVIRONMENT = [
    ("js_runtime", r"no supported javascript runtime|challenge solv\w* failed|signature (?:solving|extraction) "
                   r"failed|n(?:sig)? challenge|\bjsc\b|\bejs\b"),
    ("no_formats", r"requested format is not available|no video formats found|only images are available"),
    ("po_token", r"po.?token"),
    ("extractor", r"please report this issue|unable to extract|failed to extract any player response|"
                  r"confirm you are on the latest version|yt-dlp -u\b"),
    ("unsupported_url", r"unsupported url"),
]  # fmt: skip
_NEEDS_ACCOUNT = [
    ("age_restricted", r"sign in to confirm your age|age.?restricted|inappropriate for some users"),
    ("members_only", r"members[- ]only|join this channel|available to this channel.?s members|music premium"),
    ("geo_blocked", r"available in your country|not available from your location|geo.?restrict|"
                    r"blocked it in your country"),
]  # fmt: skip
_UNAVAILABLE = [
    ("private", r"private video|this video is private"),
    ("terminated", r"account associated with this video has been terminated"),
    ("copyright", r"copyright (?:claim|grounds|infringement)"),
    ("removed", r"has been removed|no longer available|video unavailable|this video is unavailable"),
    ("upcoming", r"live event will begin|premieres in"),
    ("drm", r"drm protected"),
    ("invalid_url", r"is not a valid url"),
]
# Every reason class an unavailable video may have (download.json `reason_class`): what
# `claimflow unavailable --retry` takes. `unknown`: manifests from before classes existed.
UNAVAILABLE_CLASSES = (*(name for name, _ in _NEEDS_ACCOUNT + _UNAVAILABLE), "not_found", "empty_file", "not_media",
                       "unknown")  # fmt: skip
ENVIRONMENT_FIXES = {
    "js_runtime": "yt-dlp could not solve YouTube's JavaScript challenges: check that `deno` and `yt-dlp-ejs` "
    "are installed (`claimflow doctor` says), then update yt-dlp and yt-dlp-ejs together",
    "no_formats": "yt-dlp found no downloadable formats on videos that have them: usually an outdated yt-dlp or "
    "a missing JavaScript runtime; update yt-dlp (docs/downloads.md: 'Updating yt-dlp mid-batch') and run "
    "`claimflow doctor`",
    "po_token": "YouTube asked for a PO token: install a PO-token provider plugin and pass it with "
    "download.ytdlp.plugin_dirs / extractor_args (docs/downloads.md: 'Downloading from YouTube')",
    "extractor": "yt-dlp's extractor is broken for this site: update yt-dlp "
    "(docs/downloads.md: 'Updating yt-dlp mid-batch')",
    "unsupported_url": "yt-dlp did not recognise the URL: check the source line, or update yt-dlp if the site "
    "changed its pages",
}


# An address whose path names a media file (yt-dlp's direct-link case).
MEDIA_SUFFIX = re.compile(r"\.(mp3|m4a|m4b|aac|ogg|oga|opus|flac|wav|mp4|m4v|webm|mkv|mov)$", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    kind: str
    reason: str
    retry_after: float | None = None
    reason_class: str | None = None  # e.g. private, removed, age_restricted, js_runtime

    @property
    def permanent(self) -> bool:
        return self.kind == UNAVAILABLE

    @property
    def fix(self) -> str | None:
        return ENVIRONMENT_FIXES.get(self.reason_class or "") if self.kind == ENVIRONMENT else None


def _http_status(exc: BaseException) -> tuple[int | None, float | None]:
    """Find an HTTP status (and Retry-After) in the exception or its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = getattr(current, "status", None)
        response = getattr(current, "response", None)
        if isinstance(status, int):
            retry_after = None
            headers = getattr(response, "headers", None)
            if headers is not None:
                try:
                    retry_after = float(headers.get("Retry-After"))
                except (TypeError, ValueError):
                    retry_after = None
            return status, retry_after
        info = getattr(current, "exc_info", None)
        nested = info[1] if isinstance(info, tuple) and len(info) > 1 else None
        current = nested or current.__cause__ or current.__context__
    return None, None


def _match(table: list[tuple[str, str]], message: str) -> str | None:
    return next((name for name, pattern in table if re.search(pattern, message, re.IGNORECASE)), None)


def classify(exc: BaseException) -> Outcome:
    message = str(exc)
    first = _first_line(message)
    status, retry_after = _http_status(exc)
    if status == 429:
        return Outcome(RATE_LIMITED, "HTTP 429 Too Many Requests", retry_after, "http_429")
    if status == 401:
        return Outcome(AUTH_FAILED, "HTTP 401: credentials rejected")
    if status in (404, 410):
        return Outcome(UNAVAILABLE, f"HTTP {status}", reason_class="not_found")
    if status == 451:
        return Outcome(NEEDS_ACCOUNT, "HTTP 451 Unavailable For Legal Reasons", reason_class="geo_blocked")
    # Rate limits first: YouTube's session limit reads "Video unavailable. This content isn't
    # available, try again later", which must never make a video permanently unavailable.
    if _RATE_TEXT.search(message):
        return Outcome(RATE_LIMITED, first, retry_after, "rate_limited")
    if cause := _match(_ENVIRONMENT, message):
        return Outcome(ENVIRONMENT, first, reason_class=cause)
    if cause := _match(_NEEDS_ACCOUNT, message):
        return Outcome(NEEDS_ACCOUNT, first, reason_class=cause)
    if cause := _match(_UNAVAILABLE, message):
        return Outcome(UNAVAILABLE, first, reason_class=cause)
    if _AUTH_TEXT.search(message):
        return Outcome(AUTH_FAILED, first)
    if status == 403:
        # A bare 403 is ambiguous (bot detection, an expired media URL, a refused session):
        # back off like a rate limit rather than disable a possibly healthy account.
        return Outcome(RATE_LIMITED, "HTTP 403 Forbidden", reason_class="http_403")
    if status is not None:
        return Outcome(TRANSIENT, f"HTTP {status}")
    return Outcome(TRANSIENT, first)


def cookies_rejected(message: str) -> bool:
    """yt-dlp's warning that the account's cookies no longer log it in."""
    return bool(_AUTH_TEXT.search(message))


def _first_line(message: str) -> str:
    text = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return re.sub(r"^ERROR:\s*", "", text)[:300]


def for_address(outcome: Outcome, url: str) -> Outcome:
    """An outcome read against the address it came from. "Unsupported URL" is an environment
    fault for a page (yt-dlp may not know the site yet), but for an address that names a media
    file (`.../episode.mp3`) and served a web page instead, it is that address's own property:
    unavailable, not media."""
    if outcome.kind == ENVIRONMENT and outcome.reason_class == "unsupported_url":
        path = urlsplit(url).path
        if MEDIA_SUFFIX.search(path):
            name = path.rsplit("/", 1)[-1]
            return Outcome(UNAVAILABLE, f"{name} is not a media file: the address served a web page instead (a moved "
                           "file or a login page); check the address", reason_class="not_media")  # fmt: skip
    return outcome

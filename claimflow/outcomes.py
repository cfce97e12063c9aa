"""Classify a failed download: rate limited, auth failed, unavailable, or transient.

Exception types and HTTP statuses decide first (yt-dlp keeps the cause in
`DownloadError.exc_info`); message text only where yt-dlp reports nothing structured.
Order matters: "Private video. Sign in if you've been granted access" mentions signing in
but is a property of the video, not of the account, so it is `unavailable`, never `auth`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATE_LIMITED = "rate_limited"
AUTH_FAILED = "auth_failed"
UNAVAILABLE = "unavailable"
TRANSIENT = "transient"

_UNAVAILABLE_TEXT = re.compile(
    r"private video|video unavailable|this video is unavailable|has been removed|"
    r"no longer available|members[- ]only|join this channel|not available in your country|"
    r"geo.?restrict|blocked it in your country|copyright claim|account associated with this video has been terminated|"
    r"sign in to confirm your age|age.?restricted|inappropriate for some users|"
    r"unsupported url|no video formats found|requested format is not available|is not a valid url",
    re.IGNORECASE,
)
_RATE_TEXT = re.compile(
    r"rate.?limit|too many requests|confirm you.?re not a bot|captcha|http error 429", re.IGNORECASE
)
_AUTH_TEXT = re.compile(
    r"cookies are no longer valid|cookies? (?:have|has) expired|invalid cookies|http error 401|"
    r"login required|authentication failed",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Outcome:
    kind: str
    reason: str
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        return self.kind == UNAVAILABLE


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


def classify(exc: BaseException) -> Outcome:
    message = str(exc)
    status, retry_after = _http_status(exc)
    if status == 429:
        return Outcome(RATE_LIMITED, "HTTP 429 Too Many Requests", retry_after)
    if status == 401:
        return Outcome(AUTH_FAILED, "HTTP 401: credentials rejected")
    if status in (404, 410, 451):
        return Outcome(UNAVAILABLE, f"HTTP {status}")
    if _UNAVAILABLE_TEXT.search(message):
        return Outcome(UNAVAILABLE, _first_line(message))
    if _RATE_TEXT.search(message):
        return Outcome(RATE_LIMITED, _first_line(message), retry_after)
    if _AUTH_TEXT.search(message):
        return Outcome(AUTH_FAILED, _first_line(message))
    if status == 403:
        # A bare 403 is ambiguous (bot detection, an expired media URL, a refused session):
        # back off like a rate limit rather than disable a possibly healthy account.
        return Outcome(RATE_LIMITED, "HTTP 403 Forbidden")
    if status is not None:
        return Outcome(TRANSIENT, f"HTTP {status}")
    return Outcome(TRANSIENT, _first_line(message))


def cookies_rejected(message: str) -> bool:
    """yt-dlp's warning that the account's cookies no longer log it in."""
    return bool(_AUTH_TEXT.search(message))


def _first_line(message: str) -> str:
    text = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return re.sub(r"^ERROR:\s*", "", text)[:300]

import pytest

from claimflow import outcomes


class FakeResponse:
    def __init__(self, headers):
        self.headers = headers


def _ytdlp_error(status: int, headers: dict | None = None) -> Exception:
    """The real yt-dlp exception chain: DownloadError carrying an HTTPError in exc_info."""
    import io

    from yt_dlp.networking import Response
    from yt_dlp.networking.exceptions import HTTPError
    from yt_dlp.utils import DownloadError

    response = Response(io.BytesIO(b""), "http://127.0.0.1/x", headers or {}, status=status)
    cause = HTTPError(response)
    try:
        raise cause
    except HTTPError:
        import sys

        return DownloadError(f"ERROR: unable to download video data: HTTP Error {status}", sys.exc_info())


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limited"), (401, "auth_failed"), (403, "rate_limited"), (404, "unavailable"), (503, "transient")],
)
def test_http_status_from_the_exception_chain_decides(status, kind):
    assert outcomes.classify(_ytdlp_error(status)).kind == kind


def test_retry_after_is_read_from_the_response():
    outcome = outcomes.classify(_ytdlp_error(429, {"Retry-After": "120"}))
    assert outcome.retry_after == 120.0


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "unavailable"),
        ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable"),
        ("ERROR: [youtube] abc: Join this channel to get access to members-only content", "unavailable"),
        ("ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
         "unavailable"),
        ("ERROR: [youtube] abc: Sign in to confirm you're not a bot.", "rate_limited"),
        ("ERROR: [youtube] abc: The following content is not available on this app.. rate-limited by YouTube",
         "rate_limited"),
        ("WARNING: The provided YouTube account cookies are no longer valid.", "auth_failed"),
        ("ERROR: Read timed out.", "transient"),
    ],
)  # fmt: skip
def test_message_text_decides_when_no_status(message, kind):
    assert outcomes.classify(RuntimeError(message)).kind == kind


def test_private_video_is_never_an_auth_failure():
    outcome = outcomes.classify(RuntimeError("Private video. Sign in if you've been granted access to this video"))
    assert outcome.kind == outcomes.UNAVAILABLE and outcome.permanent

import pytest

from claimflow.download import outcomes


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
    [
        (429, "rate_limited"),
        (401, "auth_failed"),
        (403, "rate_limited"),
        (404, "unavailable"),
        (451, "needs_account"),
        (503, "transient"),
    ],
)
def test_http_status_from_the_exception_chain_decides(status, kind):
    assert outcomes.classify(_ytdlp_error(status)).kind == kind


def test_retry_after_is_read_from_the_response():
    outcome = outcomes.classify(_ytdlp_error(429, {"Retry-After": "120"}))
    assert outcome.retry_after == 120.0


# The catalogue: messages as yt-dlp (2026.10.26, its source in the venv) and YouTube produce
# them, as users quote them on yt-dlp's tracker (issues 11426, 15684, 15988, 16132, 16694).
# (message, kind, reason class)
CATALOGUE = [
    # the video itself: permanent
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "unavailable",
     "private"),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable", "removed"),
    ("ERROR: [youtube] abc: Video unavailable. This video is no longer available because the YouTube account "
     "associated with this video has been terminated.", "unavailable", "terminated"),
    ("ERROR: [youtube] abc: Video unavailable. This video contains content from SME, who has blocked it on "
     "copyright grounds.", "unavailable", "copyright"),
    ("ERROR: [youtube] abc: This live event will begin in 3 hours.", "unavailable", "upcoming"),
    ("ERROR: [youtube] abc: This video is DRM protected", "unavailable", "drm"),
    # another account may see it: try them all first
    ("ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
     "needs_account", "age_restricted"),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content like this video, and other "
     "exclusive perks.", "needs_account", "members_only"),
    ("ERROR: [youtube] abc: This video is available to this channel's members on level: Gold (or any higher level).",
     "needs_account", "members_only"),
    ("ERROR: [youtube] abc: The uploader has not made this video available in your country", "needs_account",
     "geo_blocked"),
    ("ERROR: [youtube] abc: Video unavailable. This video contains content from SME, who has blocked it in your "
     "country on copyright grounds.", "needs_account", "geo_blocked"),
    # the site pushes back: back off, never a verdict on the video
    ("ERROR: [youtube] abc: Video unavailable. This content isn't available, try again later. The current session "
     "has been rate-limited by YouTube for up to an hour.", "rate_limited", "rate_limited"),
    ("ERROR: [youtube] abc: Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies for the "
     "authentication.", "rate_limited", "rate_limited"),
    ("ERROR: [youtube] abc: Sign in to confirm you’re not a bot.", "rate_limited", "rate_limited"),
    ("WARNING: The provided YouTube account cookies are no longer valid.", "auth_failed", None),
    # our environment: never permanent
    ("WARNING: [youtube] abc: n challenge solving failed: Some formats may be missing. Ensure you have a supported "
     "JavaScript runtime and challenge solver script distribution installed.", "environment", "js_runtime"),
    ("WARNING: [youtube] abc: Signature solving failed: Some formats may be missing.", "environment", "js_runtime"),
    ("WARNING: [youtube] No supported JavaScript runtime could be found. Only deno is enabled by default; YouTube "
     "extraction without a JS runtime has been deprecated, and some formats may be missing.", "environment",
     "js_runtime"),
    ("ERROR: [youtube] abc: Requested format is not available. Use --list-formats for a list of available formats",
     "environment", "no_formats"),
    ("ERROR: [youtube] abc: No video formats found!; please report this issue on  https://github.com/yt-dlp/yt-dlp/"
     "issues?q= , filling out the appropriate issue template.", "environment", "no_formats"),
    ("WARNING: Only images are available for download. use --list-formats to see them", "environment", "no_formats"),
    ("ERROR: [youtube] abc: Failed to extract any player response; please report this issue on  https://github.com/"
     "yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template. Confirm you are on the latest version "
     "using  yt-dlp -U", "environment", "extractor"),
    ("ERROR: [somesite] abc: Unable to extract video data; please report this issue on  https://github.com/yt-dlp/"
     "yt-dlp/issues?q= ", "environment", "extractor"),
    ("ERROR: Unsupported URL: https://example.com/watch/abc", "environment", "unsupported_url"),
    ("WARNING: [youtube] abc: Unable to fetch GVS PO Token for web client: Missing required Visitor Data.",
     "environment", "po_token"),
    ("ERROR: Read timed out.", "transient", None),
]  # fmt: skip


@pytest.mark.parametrize(("message", "kind", "reason_class"), CATALOGUE, ids=[f"{c[1]}-{i}" for i, c in
                                                                             enumerate(CATALOGUE)])  # fmt: skip
def test_the_catalogue_of_real_messages(message, kind, reason_class):
    outcome = outcomes.classify(RuntimeError(message))
    assert (outcome.kind, outcome.reason_class) == (kind, reason_class)


def test_no_environment_failure_can_be_recorded_as_permanent():
    for message, kind, _ in CATALOGUE:
        outcome = outcomes.classify(RuntimeError(message))
        if kind == "environment":
            assert not outcome.permanent and outcome.fix, message
    # The fixes the stop prints name something to do.
    assert all(
        "update yt-dlp" in fix or "install" in fix or "check" in fix for fix in outcomes.ENVIRONMENT_FIXES.values()
    )


def test_every_yt_dlp_message_that_asks_for_a_bug_report_is_environment():
    from yt_dlp.utils import ExtractorError, bug_reports_message

    error = ExtractorError(f"[generic] abc: Unable to extract title{bug_reports_message()}")
    assert outcomes.classify(error).kind == "environment"


def test_private_video_is_never_an_auth_failure():
    outcome = outcomes.classify(RuntimeError("Private video. Sign in if you've been granted access to this video"))
    assert outcome.kind == outcomes.UNAVAILABLE and outcome.permanent

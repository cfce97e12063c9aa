"""A yt-dlp extractor for the loopback test site of tests/harness/captionsite.py: a real
extractor (yt-dlp loads it from `download.ytdlp.plugin_dirs`, matches the URL, fetches the
video's info page over HTTP and hands its formats and caption tracks to yt-dlp's own selection
and downloads), standing in for a site like YouTube whose pages carry `subtitles` and
`automatic_captions` in several formats."""

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError


class LoopSiteIE(InfoExtractor):
    IE_NAME = "loopsite"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/site/watch/(?P<id>[\w-]+)"

    def _real_extract(self, url):
        vid = self._match_id(url)
        base = url.split("/site/", 1)[0] + "/site/"
        page = self._download_json(f"{base}api/{vid}.json", vid, note="Downloading the info page")
        if page.get("members_only") and not self._get_cookies(base):
            raise ExtractorError("Join this channel to get access to members-only content", expected=True)

        def tracks(listed):
            return {
                lang: [{"ext": t["ext"], "url": base + t["path"], "name": t.get("name", lang)} for t in formats]
                for lang, formats in listed.items()
            }

        return {
            "id": vid,
            "title": page["title"],
            "channel": page["channel"],
            "channel_id": page["channel"],
            "duration": page["duration"],
            "upload_date": page["upload_date"],
            "formats": [
                {
                    "url": base + page["audio"],
                    "ext": "ogg",
                    "acodec": "opus",
                    "vcodec": "none",
                    "format_id": "audio-opus",
                }
            ],
            "subtitles": tracks(page.get("subtitles") or {}),
            "automatic_captions": tracks(page.get("automatic_captions") or {}),
        }

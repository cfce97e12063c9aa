"""Fixtures written by claimflow's tests in the shapes real files have (see ../shared/wild/ for
the real ones, which are never copied here): podcast feeds as feed generators write them, cookie
files as browser extensions export them, caption tracks as YouTube serves them."""

# The fixtures keep real files' long lines and whitespace-only lines: they are what is under test.
# ruff: noqa: E501, W293

from __future__ import annotations

from pathlib import Path

# RSS 2.0 as podcast hosts write it: a blank line before `<?xml`, the iTunes namespace in the
# wrong case, HTML in CDATA, dates in named zones, the cover art enclosure before the audio, an
# untyped relative enclosure, one item listed twice, one item without media, durations as
# HH:MM:SS, MM:SS and seconds.
RSS = """
<?xml version="1.0" encoding="UTF-8"?><rss xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd" version="2.0"><channel><title>The Sleep Show</title><link>{base}/</link>
<description><![CDATA[<p>A show about <b>sleep</b> &amp; more.</p>]]></description>
<item><title>Episode 3: Forests</title><guid isPermaLink="false">show-ep-3</guid><pubDate>Mon, 05 Jun 2023 10:00:00 EST</pubDate><itunes:duration>31</itunes:duration>
<enclosure url="{base}/cover.jpg" type="image/jpeg" length="1234"/><enclosure url="{base}/forests.ogg" type="audio/ogg" length="97565"/></item>
<item><title>Episode 2: Interest</title><guid>show-ep-2</guid><pubDate>Mon, 02 Jan 2023 10:00:00 PST</pubDate><itunes:duration>00:00:33</itunes:duration>
<enclosure url="media/interest.ogg" length="103944"/></item>
<item><title>Episode 2: Interest</title><guid>show-ep-2</guid><pubDate>Mon, 02 Jan 2023 10:00:00 PST</pubDate><itunes:duration>00:00:33</itunes:duration>
<enclosure url="media/interest.ogg" length="103944"/></item>
<item><title>Bonus: the long one</title><guid>show-bonus</guid><pubDate>Sun, 01 Jan 2023 10:00:00 GMT</pubDate><itunes:duration>1:02:03</itunes:duration>
<enclosure url="{base}/long.mp3" type="x-audio/mp3" length="1"/></item>
<item><title>Show notes only</title><guid>show-notes</guid><pubDate>Sat, 31 Dec 2022 10:00:00 GMT</pubDate><description>no audio</description></item>
</channel></rss>
"""

# Atom with iTunes tags and CRLF line ends: one entry with a rel="enclosure" link (MM:SS), one
# with text only.
ATOM = (
    '<?xml version="1.0" encoding="utf-8"?>\r\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">\r\n'
    "\t<title>Atom Talks</title>\r\n  <updated>2023-06-01T16:22:08+12:00</updated>\r\n"
    "  <id>{base}/atom</id>\r\n  <itunes:author>Jane Doe</itunes:author>\r\n"
    "  <entry>\r\n    <title>Sleep, in Atom</title>\r\n    <id>{base}/talks/sleep</id>\r\n"
    '    <link href="{base}/talks/sleep.html" rel="alternate" type="text/html"/>\r\n'
    '    <link href="{base}/sleep.ogg" rel="enclosure" type="audio/ogg" length="87677"/>\r\n'
    "    <published>2023-05-02T00:00:00+13:00</published><updated>2023-05-02T00:00:00+13:00</updated>\r\n"
    "    <itunes:duration>00:29</itunes:duration>\r\n  </entry>\r\n"
    "  <entry>\r\n    <title>Text only</title>\r\n    <id>{base}/talks/text</id>\r\n"
    '    <link href="{base}/talks/text.html" rel="alternate" type="text/html"/>\r\n'
    "    <updated>2023-04-01T00:00:00+13:00</updated>\r\n  </entry>\r\n</feed>\r\n"
)

# A remote feed that names files on the machine that reads it: a file: URL and a relative name
# (which must resolve against the feed's own address, never against a local folder).
HOSTILE_RSS = """<rss version="2.0"><channel><title>Hostile</title>
<item><title>A local file</title><guid>h-1</guid><enclosure url="file://{decoy}" type="audio/ogg"/></item>
<item><title>A relative name</title><guid>h-2</guid><enclosure url="{decoy_name}"/></item>
<item><title>Up and out</title><guid>h-3</guid><enclosure url="../../{decoy_name}" type="audio/ogg"/></item>
</channel></rss>
"""


def write(folder: Path, name: str, text: str, **fields: str) -> Path:
    path = folder / name
    path.write_bytes(text.format(**fields).encode("utf-8"))
    return path


# A browser export (cookies.txt extension) for a loopback site: the header, #HttpOnly_ entries,
# a session cookie with an empty expiry and one with 0.
def browser_export(host: str, token: str) -> str:
    return (
        "# Netscape HTTP Cookie File\n# http://curl.haxx.se/rfc/cookie_spec.html\n"
        "# This is a generated file!  Do not edit.\n\n"
        f"#HttpOnly_{host}\tFALSE\t/\tFALSE\t2147483647\tSID\t{token}-sid\n"
        f"#HttpOnly_.{host}\tTRUE\t/\tFALSE\t2147483647\tHSID\t{token}-hsid\n"
        f"{host}\tFALSE\t/\tFALSE\t\tPREF\t{token}-pref\n"
        f"{host}\tFALSE\t/\tFALSE\t0\tlang\ten\n"
    )


# yt-dlp's own malformed case: an entry with 6 fields and one whose expiry overflows.
def malformed_export(host: str, token: str) -> str:
    return (
        "# Netscape HTTP Cookie File\n# http://curl.haxx.se/rfc/cookie_spec.html\n\n"
        "# an entry with 6 fields instead of 7\n"
        f"{host}\tFALSE\t/\tFALSE\t0\t{token}-six\n\n"
        "# an entry whose expiry is out of range\n"
        f"{host}\tFALSE\t/\tFALSE\t1.7976931348623157e+308\tSID\t{token}-value\n"
    )


# YouTube's WebVTT as served: a Kind/Language header, cue settings, each line shown again above
# the next one, 10 ms cues that repeat a line alone, inline word times and styling tags.
ROLLING_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.600 align:start position:0%
 
sleep<00:00:00.500><c> is</c><00:00:00.900><c> essential</c><00:00:01.600><c> for</c><00:00:02.000><c> memory</c>

00:00:02.600 --> 00:00:02.610 align:start position:0%
sleep is essential for memory
 

00:00:02.610 --> 00:00:05.500 align:start position:0%
sleep is essential for memory
during<00:00:03.100><c> deep</c><00:00:03.500><c> sleep</c><c.colorE5E5E5><00:00:04.000><c> the</c><00:00:04.300><c> brain</c></c>

00:00:05.500 --> 00:00:05.510 align:start position:0%
during deep sleep the brain
 

00:00:05.510 --> 00:00:09.000 align:start position:0%
during deep sleep the brain
replays<00:00:06.000><c> what</c><00:00:06.400><c> it</c><00:00:06.600><c> learned</c><00:00:07.400><c> during</c><00:00:08.000><c> the</c><00:00:08.400><c> day</c>

00:00:09.000 --> 00:00:10.000 align:start position:0%
[Music]
"""

# The same track as `--convert-subs srt` writes it: each line in two or three cues.
ROLLING_SRT = """1
00:00:00,000 --> 00:00:02,600
sleep is essential for memory

2
00:00:02,600 --> 00:00:02,610
sleep is essential for memory

3
00:00:02,610 --> 00:00:05,500
sleep is essential for memory
during deep sleep the brain

4
00:00:05,500 --> 00:00:05,510
during deep sleep the brain

5
00:00:05,510 --> 00:00:09,000
during deep sleep the brain
replays what it learned during the day
"""

ROLLING_WORDS = "sleep is essential for memory during deep sleep the brain replays what it learned during the day"

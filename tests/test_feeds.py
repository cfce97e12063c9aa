"""Podcast feeds read with feedparser: the shapes real feeds come in, the enclosure chosen by
type, relative links resolved against the feed's address, and nothing local ever named."""

from __future__ import annotations

import pytest

from claimflow.batch import collections, feeds
from claimflow.batch.filters import Filters
from tests.harness import wildshapes

BASE = "http://127.0.0.1:8000/podcast"


def _parse(text: str, url: str = f"{BASE}/feed.rss", **fields: str) -> feeds.Feed:
    return feeds.parse(text.format(base=BASE, **fields).encode(), url)


def test_a_feed_with_a_blank_line_before_its_declaration_and_odd_namespaces_is_read():
    feed = _parse(wildshapes.RSS)
    assert feed.title == "The Sleep Show"
    by_id = {item.entry_id: item for item in feed.items}
    assert set(by_id) == {"show-ep-3", "show-ep-2", "show-bonus"}
    assert feed.skipped == {"no_media": 1}  # the show-notes item
    # Dates as the feed writes them, in UTC (10:00 EST is 15:00 UTC, 10:00 PST 18:00 UTC).
    assert by_id["show-ep-3"].upload_date == "20230605" and by_id["show-ep-2"].upload_date == "20230102"


def test_the_audio_enclosure_is_chosen_over_cover_art_and_relative_links_resolve_against_the_feed():
    by_id = {item.entry_id: item for item in _parse(wildshapes.RSS).items}
    assert by_id["show-ep-3"].url == f"{BASE}/forests.ogg"  # not cover.jpg, listed first
    assert by_id["show-ep-2"].url == f"{BASE}/media/interest.ogg"  # relative, untyped
    assert by_id["show-bonus"].url == f"{BASE}/long.mp3"  # x-audio/mp3 is audio


def test_relative_links_resolve_against_the_address_after_redirects():
    feed = _parse(wildshapes.RSS, url="http://cdn.example.org/shows/sleep/rss")
    assert {i.url for i in feed.items if i.entry_id == "show-ep-2"} == {
        "http://cdn.example.org/shows/sleep/media/interest.ogg"
    }


def test_durations_as_feeds_write_them():
    durations = {item.entry_id: item.duration for item in _parse(wildshapes.RSS).items}
    assert durations == {"show-ep-3": 31.0, "show-ep-2": 33.0, "show-bonus": 3723.0}
    assert [feeds.parse_duration(t) for t in ("45:44", "10475", "1:09:50", "00:29", "61.5", "", "n/a", None)] == [
        2744.0, 10475.0, 4190.0, 29.0, 61.5, None, None, None]  # fmt: skip


def test_an_atom_feed_with_itunes_tags_and_crlf_lines_is_read():
    feed = _parse(wildshapes.ATOM, url=f"{BASE}/talks.atom")
    assert feed.title == "Atom Talks"
    (item,) = feed.items
    assert item.url == f"{BASE}/sleep.ogg" and item.entry_id == f"{BASE}/talks/sleep"
    assert item.duration == 29.0 and item.upload_date == "20230501"  # +13:00 midnight is the day before in UTC
    assert feed.skipped == {"no_media": 1}


def test_an_item_naming_a_local_file_is_never_a_local_path(tmp_path):
    decoy = tmp_path / "decoy.ogg"
    decoy.write_bytes(b"secret")
    feed = _parse(wildshapes.HOSTILE_RSS, decoy=str(decoy), decoy_name=decoy.name)
    assert [item.url for item in feed.items] == [f"{BASE}/decoy.ogg", "http://127.0.0.1:8000/decoy.ogg"]
    assert feed.skipped == {"not_a_web_address": 1}  # the file: URL
    assert all(feeds.is_network_url(item.url) for item in feed.items)


def test_a_page_that_is_not_a_feed_is_named_as_such():
    with pytest.raises(feeds.FeedUnreadable, match="not a feed"):
        feeds.parse(b"<html><body>Loading the player</body></html>", f"{BASE}/page")


def test_a_listing_entry_that_is_not_a_web_address_is_never_selected(tmp_path):
    decoy = tmp_path / "decoy.ogg"
    decoy.write_bytes(b"secret")
    listing = {"collection": "hostile", "url": f"{BASE}/feed.rss", "kind": "feed", "title": "Hostile",
               "listed_at": 0.0, "account": "a1",
               "entries": [{"position": 1, "entry_id": "a", "url": str(decoy), "title": "path", "upload_date": None,
                            "duration": None, "listed": True},
                           {"position": 2, "entry_id": "b", "url": decoy.as_uri(), "title": "file url",
                            "upload_date": None, "duration": None, "listed": True},
                           {"position": 3, "entry_id": "c", "url": f"{BASE}/ok.ogg", "title": "web",
                            "upload_date": None, "duration": None, "listed": True}]}  # fmt: skip
    selection = collections.select(listing, Filters())
    assert [e["url"] for e in selection["entries"]] == [f"{BASE}/ok.ogg"]
    assert selection["counts"]["removed"]["not_a_video"] == 2


def test_an_episode_in_a_folder_named_feeds_is_a_video_not_a_feed():
    from claimflow.batch.sources import Source, resolve, resolve_video

    assert isinstance(resolve_video("http://127.0.0.1:8000/feeds/test.mp3", "feed:1"), Source)
    assert isinstance(resolve("https://cdn.example.org/feeds/episode-1.mp3", None, "line 1"), Source)
    assert not isinstance(resolve("https://example.org/feeds/show", None, "line 2"), Source)  # a feed

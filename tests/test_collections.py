"""Collections: what a line or a config entry names, the listing by real yt-dlp of a real feed
on loopback (paced like a download, its failure named), the selection, the store's rows."""

from __future__ import annotations

import json
import sqlite3

import pytest

from claimflow.batch import collections
from claimflow.batch.filters import Filters
from claimflow.batch.sources import SourceError, read_batch
from claimflow.core.settings import load
from claimflow.download.accounts import Account
from claimflow.store import database as store
from tests.harness.feeds import Episode, write_feed

EPISODES = [
    Episode("ep-3", "Episode 3: Forests", "2023-06-05", "forests.ogg", 31),
    Episode("ep-2", "Episode 2: Interest", "2023-01-02", "interest.ogg"),
    Episode("ep-1", "Episode 1: Sleep", "2022-09-01", "sleep.ogg"),
]


def test_lines_that_name_collections_become_collections_and_the_rest_videos(tmp_path):
    lines = [
        "https://www.youtube.com/@veritasium",
        "https://www.youtube.com/@veritasium/videos",  # the same channel's tab: a second collection
        "https://www.youtube.com/playlist?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
        "https://feeds.example.org/show/feed",
        "https://example.org/podcast.rss",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://example.org/talk.mp3",
    ]
    batch = read_batch(lines, cwd=tmp_path)
    assert [v.vid for v in batch.videos][0] == "youtube-dQw4w9WgXcQ" and len(batch.videos) == 2
    kinds = {c.url: (c.kind, c.cid) for c in batch.collections}
    assert kinds[lines[0]] == ("YoutubeTab", "youtubetab-veritasium")
    assert kinds[lines[1]][1].startswith("youtubetab-veritasium-")  # told apart, not merged
    assert kinds[lines[2]] == ("YoutubeTab", "youtubetab-PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf")
    assert kinds[lines[3]][0] == kinds[lines[4]][0] == "feed"


def test_the_config_names_a_collection_and_gives_it_filters_over_the_global_ones(tmp_path):
    configured = [{"url": "https://example.org/podcast.rss", "name": "show", "filters": {"min_duration": 600}}]
    batch = read_batch(["https://example.org/podcast.rss"], cwd=tmp_path, collections=configured,
                       filters={"after": "2023-01-01", "min_duration": 60})  # fmt: skip
    (show,) = batch.collections
    assert show.cid == "show" and show.filters.active() == {"after": "20230101", "min_duration": 600}
    # Listed only under collections: still a collection of the batch.
    assert [c.cid for c in read_batch(["https://example.org/a.mp3"], tmp_path, configured).collections] == ["show"]
    with pytest.raises(SourceError, match=r"collections\[0\]: 'https://example.org/a.mp3' is a single video"):
        read_batch([], tmp_path, [{"url": "https://example.org/a.mp3"}])


@pytest.mark.integration
def test_a_feed_on_loopback_is_listed_by_real_ytdlp_with_guids_dates_durations(media_server):
    path = write_feed(media_server.root, "show.xml", media_server.url("").rstrip("/"), "Show", EPISODES)
    title, entries = collections.list_entries(media_server.url(path[1:]), {"quiet": True})
    assert title == "Show"
    assert [(e.entry_id, e.upload_date, e.duration) for e in entries] == [
        ("ep-3", "20230605", 31.0), ("ep-2", "20230102", None), ("ep-1", "20220901", None)]  # fmt: skip
    assert [e.url for e in entries] == [media_server.url(ep.file) for ep in EPISODES]
    assert [e.position for e in entries] == [1, 2, 3]
    # Flat: the feed was fetched, no episode's media.
    assert [r.path for r in media_server.requests] == [path]


def _listing_job(tmp_path, server, path, account=None, delay=(0.0, 0.0)):
    cfg = load({"pacing": {"delay": list(delay), "floor": 0.0, "warmup": {"videos": 0}}})
    collection = collections.Collection("show", server.url(path[1:]), "feed", "test")
    return collections.run_listing(collection, account or Account("a1"), tmp_path / "state/accounts", cfg.pacing,
                                   tmp_path / "results/collections/show/listing.json")  # fmt: skip


@pytest.mark.integration
def test_a_listing_takes_the_accounts_turn_and_remembers_what_it_listed(tmp_path, media_server):
    path = write_feed(media_server.root, "show.xml", media_server.url("").rstrip("/"), "Show", EPISODES)
    first = _listing_job(tmp_path, media_server, path, delay=(1.0, 1.0))
    write_feed(media_server.root, "show.xml", media_server.url("").rstrip("/"), "Show", EPISODES[:1])
    second = _listing_job(tmp_path, media_server, path, delay=(1.0, 1.0))
    starts = [r.t for r in media_server.requests if r.path == path]
    # The account's 1 s gap, like a download's (measured at the server: setup time shifts it a little).
    assert len(starts) == 2 and starts[1] - starts[0] >= 0.9
    assert json.loads((tmp_path / "state/accounts/a1.json").read_text())["last_start"] > 0
    assert [e["listed"] for e in first["entries"]] == [True, True, True]
    # Two episodes left the feed: still in the listing, as no longer listed.
    assert [(e["entry_id"], e["listed"]) for e in second["entries"]] == [
        ("ep-3", True), ("ep-2", False), ("ep-1", False)]  # fmt: skip


@pytest.mark.integration
def test_a_feed_that_cannot_be_listed_is_named_with_the_fix(tmp_path, media_server):
    with pytest.raises(collections.ListingFailed, match=r"collection show \(http://127.0.0.1:\d+/gone.xml\) could "
                       r"not be listed: .*404.*run the same command again"):  # fmt: skip
        _listing_job(tmp_path, media_server, "/gone.xml")
    assert not (tmp_path / "results/collections/show/listing.json").exists()


def _listing(cid, entries, base="http://127.0.0.1:9"):
    return {"collection": cid, "url": f"{base}/{cid}.xml", "kind": "feed", "title": cid, "listed_at": 1.0,
            "entries": [dict(position=i, entry_id=e.guid, url=f"{base}/{e.file}", title=e.title,
                             upload_date=e.day.replace("-", ""), duration=e.seconds, listed=True)
                        for i, e in enumerate(entries, 1)]}  # fmt: skip


def test_selection_gives_each_entry_its_video_id_and_counts_each_filter(tmp_path):
    selection = collections.select(_listing("show", EPISODES), Filters.from_config({"after": "2023-01-01"}))
    assert [e["entry_id"] for e in selection["entries"]] == ["ep-3", "ep-2"]
    assert selection["counts"] == {"listed": 3, "kept": 2, "removed": {"after": 1}, "unknown": {},
                                   "no_longer_listed": 0}  # fmt: skip
    assert collections.describe_counts("show", selection["counts"]) == "show: 3 listed, 2 kept (after removed 1)"
    other = collections.select(_listing("other", EPISODES[:1]), Filters())
    # The same enclosure in two feeds is one video.
    assert other["entries"][0]["vid"] == selection["entries"][0]["vid"]


def test_a_listing_stored_while_another_program_holds_the_lock_fails_naming_it_and_stores_later(tmp_path):
    db = tmp_path / "claimflow.sqlite"
    store.ensure(db)
    show = collections.select(_listing("show", EPISODES), Filters())
    other = sqlite3.connect(db, isolation_level=None)  # e.g. an sqlite3 shell left inside BEGIN
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(store.DatabaseLocked, match="stayed locked by another program for 1 s"):
        store.store_collection(db, show, timeout=1)
    other.execute("ROLLBACK")
    assert other.execute("SELECT COUNT(*) FROM collection_videos").fetchone()[0] == 0
    other.close()
    assert store.store_collection(db, show, timeout=1)["listed"] == 3


def test_the_store_records_every_home_of_a_video_and_keeps_the_ones_no_longer_listed(tmp_path):
    db = tmp_path / "claimflow.sqlite"
    show = collections.select(_listing("show", EPISODES), Filters())
    other = collections.select(_listing("other", EPISODES[:1]), Filters())
    assert store.store_collection(db, show, timeout=5) == {"listed": 3, "kept": 3, "no_longer_listed": 0}
    store.store_collection(db, other, timeout=5)
    listing = _listing("show", EPISODES)
    listing["entries"][2]["listed"] = False  # ep-1 left the feed
    again = collections.select(listing, Filters())
    assert store.store_collection(db, again, timeout=5)["no_longer_listed"] == 1
    conn = sqlite3.connect(db)
    homes = conn.execute("SELECT vid, GROUP_CONCAT(cid) FROM collection_videos GROUP BY vid").fetchall()
    forests = show["entries"][0]["vid"]
    assert sorted(dict(homes)[forests].split(",")) == ["other", "show"]
    listed = dict(conn.execute("SELECT entry_id, listed FROM collection_videos WHERE cid = 'show'"))
    assert listed == {"ep-3": 1, "ep-2": 1, "ep-1": 0}

"""Collections through the real workflow: a podcast feed on loopback listed by a job, filtered,
refreshed (only the new episode is downloaded; the vanished one stays), one episode in two
feeds and a plain line processed once; a dry run makes no request; a feed that cannot be
listed is named while the rest of the batch goes on. Transcription and mining are benchmark
sleeps here (claimflow/parts/standins.py): downloads, listings, pacing and the store are real."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess

import pytest
import yaml

from claimflow.commands import configdoc
from tests.conftest import CLAIMFLOW, DEMO_CLIPS, run_workflow
from tests.harness.faultserver import FaultServer
from tests.harness.feeds import Episode, write_feed

pytestmark = pytest.mark.slow

SHOW = [
    Episode("ep-3", "Episode 3: Forests", "2023-06-05", "forests.ogg", 31),
    Episode("ep-2", "Episode 2: Interest", "2023-01-02", "interest.ogg"),
    Episode("ep-1", "Episode 1: Sleep", "2022-09-01", "sleep.ogg"),
]
NEW = Episode("ep-4", "Episode 4: Sleep again", "2023-09-01", "ep4.ogg")


def _setup(tmp_path, server, sources, **config):
    settings = {
        "sources": sources, "accounts": [{"name": "a1"}, {"name": "a2"}],
        "pacing": {"delay": [0.3, 0.3], "floor": 0.1, "warmup": {"videos": 0}},
        "benchmark": {"sleep": {"transcribe": 0.1, "mine": 0.1, "evaluate": 0.1}},
    } | config  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(settings))
    return {"configs": (tmp_path / "config.yaml",), "jobs": 4}


def _run(tmp_path, batch, runner="run", *args):
    return run_workflow(tmp_path, *args, check=False, timeout=300, runner=runner, **batch)


def _json(path):
    return json.loads(path.read_text())


def _www(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    for clip in DEMO_CLIPS:
        (www / clip.name).write_bytes(clip.read_bytes())
    (www / NEW.file).write_bytes((www / "sleep.ogg").read_bytes() + b"")
    return www


def test_a_feed_is_listed_filtered_refreshed_and_an_episode_in_two_homes_is_processed_once(tmp_path):
    www = _www(tmp_path)
    with FaultServer(www) as server:
        base = server.url("").rstrip("/")
        write_feed(www, "show.xml", base, "Show", SHOW)
        write_feed(www, "other.xml", base, "Other", SHOW[:1])  # ep-3 again, in another feed
        sources = [server.url("show.xml"), server.url("other.xml"), server.url("forests.ogg")]  # and as a line
        show = {"url": server.url("show.xml"), "name": "show", "vocabulary": ["Quorvium"]}
        other = {"url": server.url("other.xml"), "name": "other", "vocabulary": ["Datavoxa"]}
        batch = _setup(tmp_path, server, sources, filters={"after": "2023-01-01"}, vocabulary=["Kubrelix"],
                      collections=[show, other])  # fmt: skip

        first = _run(tmp_path, batch)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "claimflow: collection show: 3 listed, 2 kept (after removed 1)\n" in first.stderr
        assert "claimflow: collection other: 1 listed, 1 kept\n" in first.stderr
        assert "claimflow: 2 videos: 2 ok, 0 partial, 0 failed" in first.stderr
        media = [r.path for r in server.requests if r.path.endswith(".ogg")]
        assert sorted(set(media)) == ["/forests.ogg", "/interest.ogg"]  # ep-1 filtered out: never fetched
        conn = sqlite3.connect(tmp_path / "results/claimflow.sqlite")
        assert conn.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 2
        homes = dict(conn.execute("SELECT entry_id, GROUP_CONCAT(cid) FROM collection_videos WHERE kept = 1 "
                                  "GROUP BY vid"))  # fmt: skip
        assert sorted(homes["ep-3"].split(",")) == ["other", "show"]  # one video, two homes
        downloads = list((tmp_path / "results/logs/download").glob("*.log"))
        assert len(downloads) == 2  # forests once, though listed three times
        status = subprocess.run(
            [*CLAIMFLOW, "status", "--json", "--configfile", str(tmp_path / "config.yaml")],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert json.loads(status.stdout)["collections"] == ["show: 3 listed, 2 kept (after removed 1)",
                                                            "other: 1 listed, 1 kept"]  # fmt: skip
        report = (tmp_path / "results/report.html").read_text()
        assert "<table id=collections>" in report
        assert "<tr><td>show</td><td>Show</td><td class=num>3</td><td class=num>0</td><td class=num>2</td>" in report
        # The configuration table says what a filter change reruns; a dry run plans exactly that.
        (tmp_path / "changed.yaml").write_text(yaml.safe_dump({"filters": {"after": "2022-06-01"}}))
        asked = len(server.requests)
        dry = _run(tmp_path, {"configs": (tmp_path / "config.yaml", tmp_path / "changed.yaml"), "jobs": 4},
                   "snakemake", "-n")  # fmt: skip
        assert dry.returncode == 0, dry.stderr[-3000:]
        planned = set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", dry.stdout + dry.stderr, re.M))
        assert planned - {"summary", "batch_report", "all"} == set(configdoc.reruns("filters.after").split(", "))
        assert server.requests[asked:] == []  # reselected from the listing on disk
        # The vocabulary: the batch's terms, then each collection's, for every video alike.
        words = [t["vocabulary"] for t in map(_json, (tmp_path / "results").glob("*/transcript.json"))]
        assert words == [["Kubrelix", "Quorvium", "Datavoxa"]] * 2

        # The feed changes: a new episode, one removed. A plain rerun uses the listing on disk.
        write_feed(www, "show.xml", base, "Show", [NEW, SHOW[0], SHOW[2]])
        seen = len(server.requests)
        plain = _run(tmp_path, batch)
        assert plain.returncode == 0, plain.stderr[-3000:]
        assert server.requests[seen:] == []  # not even the feed

        refreshed = _run(tmp_path, batch, "refresh")
        assert refreshed.returncode == 0, refreshed.stderr[-3000:]
        fetched = sorted({r.path for r in server.requests[seen:]})
        assert fetched == ["/ep4.ogg", "/other.xml", "/show.xml"]  # exactly the new episode's media
        assert "claimflow: collection show: 3 listed and 1 no longer listed, 3 kept (after removed 1)\n" in (
            refreshed.stderr
        )
        assert "claimflow: 3 videos: 3 ok" in refreshed.stderr
        listed = dict(conn.execute("SELECT entry_id, listed FROM collection_videos WHERE cid = 'show'"))
        assert listed == {"ep-4": 1, "ep-3": 1, "ep-2": 0, "ep-1": 1}
        vanished = conn.execute("SELECT v.status FROM videos v JOIN collection_videos c USING (vid) "
                                "WHERE c.entry_id = 'ep-2'").fetchall()  # fmt: skip
        assert vanished == [("ok",)]  # its results stay


def test_a_dry_run_plans_the_listings_and_makes_no_request(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    with FaultServer(www) as server:
        write_feed(www, "show.xml", server.url("").rstrip("/"), "Show", SHOW)
        sources = ["https://www.youtube.com/@veritasium", "https://www.youtube.com/playlist?list=PLrAXtmErZgOeiKm4s",
                   server.url("show.xml")]  # fmt: skip
        batch = _setup(tmp_path, server, sources)
        dry = _run(tmp_path, batch, "snakemake", "-n")
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert server.requests == []
    out = dry.stdout + dry.stderr
    for cid in ("youtubetab-veritasium", "youtubetab-PLrAXtmErZgOeiKm4s", "feed-show-"):
        assert f"results/collections/{cid}" in out
    stats = dict(line.split()[:2] for line in out.splitlines() if line.startswith(("list_collection", "select_")))
    assert stats == {"list_collection": "3", "select_collection": "3"}


def test_a_video_opened_from_a_playlist_plans_one_download_and_no_listing(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    with FaultServer(www) as server:
        line = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf&index=3"
        batch = _setup(tmp_path, server, [line])
        dry = _run(tmp_path, batch, "snakemake", "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    out = dry.stdout + dry.stderr
    stats = dict(line.split()[:2] for line in out.splitlines() if line.split()[:1] in (["download"], ["store"]))
    assert stats == {"download": "1", "store": "1"}
    assert "list_collection" not in out and "results/youtube-dQw4w9WgXcQ/" in out


def test_a_feed_that_cannot_be_listed_is_named_and_the_rest_of_the_batch_goes_on(tmp_path):
    www = _www(tmp_path)
    with FaultServer(www) as server:
        sources = [server.url("gone.xml"), server.url("sleep.ogg")]
        batch = _setup(tmp_path, server, sources, collections=[{"url": server.url("gone.xml"), "name": "gone"}])
        run = _run(tmp_path, batch)
        assert run.returncode == 1
        assert "claimflow: collection gone is not listed: its listing failed" in run.stderr
        # One line per attempt naming the feed and the site's answer; the traceback only in the log.
        named = [line for line in run.stderr.splitlines() if line.startswith("claimflow: collection gone (")]
        assert named and all("could not be listed: HTTP Error 404: Not Found" in line for line in named)
        assert "Traceback" not in run.stderr
        assert "claimflow: 1 videos: 1 ok" in run.stderr  # the plain line went on
        log = (tmp_path / "results/logs/list_collection/gone.log").read_text()
        assert "collection gone (http://127.0.0.1:" in log and "404" in log and "Traceback" in log
        write_feed(www, "gone.xml", server.url("").rstrip("/"), "Back", SHOW[:1])
        again = _run(tmp_path, batch)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "claimflow: collection gone: 1 listed, 1 kept" in again.stderr
        assert "claimflow: 2 videos: 2 ok" in again.stderr

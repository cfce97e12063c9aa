"""Two roads to a transcript, through the real workflow: real yt-dlp with an extractor plugin for a
test site on loopback (tests/harness/captionsite.py) that serves each video's info page with
human and automatic caption tracks in YouTube's formats, and its audio. The server's request log
is the evidence: a captioned video makes no media request and takes no account's turn; the
others download their audio on the account's pacing, as before. And in benchmark mode (no
server): kill -9 in the middle of the captions pass, then the same command finishes it without
asking twice; the pass's own settings rerun nothing on a finished batch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLAIMFLOW, DEMO, DEMO_CONFIG, bench_batch, run_workflow, workflow_command
from tests.harness import captionsite
from tests.harness.captionsite import SiteVideo
from tests.harness.faultserver import FaultServer

SOURCES = {"hum": "human captions", "auto": "automatic captions", "none": "whisper tiny.en", "memb": "human captions"}
TEXTS = {path.stem: path.read_text() for path in (DEMO / "texts").glob("*.txt")}


def _cookie_file(path: Path) -> Path:
    path.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t2145916800\tmember\tyes\n")
    return path


@pytest.mark.slow
def test_captioned_videos_download_no_audio_and_take_no_accounts_turn(tmp_path: Path):
    videos = [
        SiteVideo("hum", DEMO / "forests.ogg", human=TEXTS["forests"]),
        SiteVideo("auto", DEMO / "interest.ogg", automatic=TEXTS["interest"]),
        SiteVideo("none", DEMO / "sleep.ogg"),
        # Refused without an account: the audio road asks with one (its cookies), which also
        # fetches the human captions the page has.
        SiteVideo("memb", DEMO / "sleep.ogg", human=TEXTS["sleep"], members_only=True),
    ]
    captionsite.build(tmp_path / "www", videos)
    with FaultServer(tmp_path / "www") as server:
        config = {
            "sources": [server.url(f"site/watch/{v.vid}") for v in videos],
            "accounts": [{"name": "a1", "cookies": str(_cookie_file(tmp_path / "cookies.txt"))}],
            "pacing": {"delay": [1.0, 1.0], "floor": 0.5},
            "captions": {"automatic": "always", "pacing": {"delay": [0.6, 0.6], "floor": 0.5}},
            "download": {"ytdlp": {"plugin_dirs": [str(captionsite.PLUGINS)]}},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        run = run_workflow(tmp_path, check=False, timeout=1200, runner="run", jobs=4,
                           configs=(DEMO_CONFIG, tmp_path / "config.yaml"), env=dict(os.environ))  # fmt: skip
        requests = list(server.requests)
    assert run.returncode == 0, run.stderr[-4000:]
    media = {v.vid: len(captionsite.media_requests(server, v.vid)) for v in videos}
    assert media == {"hum": 0, "auto": 0, "none": 1, "memb": 1}, media
    # The account took exactly two turns (the audio road's videos); the captions pass its own.
    account = json.loads((tmp_path / "state/accounts/a1.json").read_text())
    assert account["downloads_started"] == 2
    passes = json.loads((tmp_path / "state/captions/anonymous.json").read_text())
    assert passes["downloads_started"] == 4
    # No cookie reached the site from the captions pass: only the account's requests carry one.
    info_pages = [r for r in requests if r.path.startswith("/site/api/")]
    assert sum(r.cookie is None for r in info_pages) == 4 and sum(bool(r.cookie) for r in info_pages) == 2
    # The captions pass's requests kept their own gap at the server.
    starts = sorted(r.t for r in info_pages if r.cookie is None)
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.5

    results = tmp_path / "results"
    # The batch's id of each site video (sources.py names them from the address).
    folder = {json.loads(p.read_text())["source"].rsplit("/", 1)[1]: p.parent for p in results.glob("*/download.json")}
    doc = {v.vid: json.loads((folder[v.vid] / "transcript.json").read_text()) for v in videos}
    roads = {v.vid: json.loads((folder[v.vid] / "download.json").read_text())["road"] for v in videos}
    assert roads == {"hum": "captions", "auto": "captions", "none": "audio", "memb": "audio"}
    assert {vid: d["source"] for vid, d in doc.items()} == SOURCES
    # Automatic captions as YouTube serves them (json3: overlapping events, line breaks, [Music]):
    # each word once, no markup, a time for every word.
    auto_words = [w["word"] for s in doc["auto"]["segments"] for w in s["words"]]
    assert auto_words == captionsite.asr_words(TEXTS["interest"])
    assert doc["auto"]["captions"]["format"] == "json3"
    assert all(s["start"] < s["end"] for s in doc["auto"]["segments"])
    # Claims grounded in the captions, punctuated or not: every quote is the transcript's own.
    for vid in ("hum", "auto"):
        text = " ".join(s["text"] for s in doc[vid]["segments"]).lower()
        claims = json.loads((folder[vid] / "claims.json").read_text())["claims"]
        quotes = [span["quote"] for claim in claims for span in claim["evidence_spans"]]
        assert all(" ".join(q.lower().split()) in text for q in quotes), (vid, quotes)
    assert json.loads((folder["hum"] / "claims.json").read_text())["claims"], "no claim mined from human captions"
    # Which road each video took: the summary and the database say it too.
    summary = (results / "summary.tsv").read_text().splitlines()
    column = summary[0].split("\t").index("transcript")
    by_vid = {line.split("\t")[0]: line.split("\t")[column] for line in summary[1:]}
    assert {v.vid: by_vid[folder[v.vid].name] for v in videos} == SOURCES
    page = (results / "report.html").read_text()
    assert "Transcripts from: automatic captions 1, human captions 2, whisper tiny.en 1." in page
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        stored = dict(conn.execute("SELECT vid, transcript_source FROM videos"))
    assert stored[folder["auto"].name] == "automatic captions" and stored[folder["none"].name] == "whisper tiny.en"


def _bench(root: Path, videos: int, **config) -> dict:
    batch = bench_batch(root, videos, {"captions": 0.5, "download": 0.2, "transcribe": 0.2, "mine": 0.1,
                                       "evaluate": 0.1}, **config)  # fmt: skip
    # Pages, not media files' own addresses (for those the pass has nothing to ask).
    (root / "videos.txt").write_text("".join(f"https://example.com/bench/watch-v{n:03d}\n" for n in range(videos)))
    return batch


@pytest.mark.slow
def test_kill_9_in_the_captions_pass_then_the_same_command_asks_each_video_once(tmp_path: Path):
    root = tmp_path / "batch"
    batch = _bench(root, 8, benchmark={"sleep": {"captions": 0.5, "download": 0.2, "transcribe": 0.2, "mine": 0.1,
                                                 "evaluate": 0.1}, "captioned": 0.5})  # fmt: skip
    results = root / "results"
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(workflow_command(root, runner="run", **batch), start_new_session=True,
                                 stdout=log, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while len(list(results.glob("*/captions.json"))) < 3:
            assert time.monotonic() < deadline and first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    asked_before = json.loads((root / "state/captions/anonymous.json").read_text())["downloads_started"]
    found_before = {p.parent.name: p.read_bytes() for p in results.glob("*/captions.json")}
    assert 3 <= len(found_before) < 8
    run_workflow(root, runner="run", **batch)
    asked = json.loads((root / "state/captions/anonymous.json").read_text())["downloads_started"]
    # Each video asked once; at most the one in flight at the kill (one slot: one at a time) is
    # asked again, its record written or not when the kill came (Snakemake had not marked it done).
    assert asked_before >= len(found_before) and 8 <= asked <= 9, (asked, asked_before, len(found_before))
    redone = [vid for vid, body in found_before.items() if (results / vid / "captions.json").read_bytes() != body]
    assert len(redone) <= 1 and asked - 8 >= len(redone)  # nothing finished is redone
    manifests = [json.loads(p.read_text()) for p in results.glob("*/download.json")]
    assert len(manifests) == 8 and {m["road"] for m in manifests} == {"captions", "audio"}
    account_turns = sum(
        json.loads(p.read_text())["downloads_started"] for p in (root / "state/accounts").glob("*.json")
    )
    # The audio road's videos took the accounts' turns (one in flight per account at the kill may
    # be taken again); the captioned ones took none.
    audio = sum(m["road"] == "audio" for m in manifests)
    assert audio <= account_turns <= audio + 2
    assert all(m["account"] is None for m in manifests if m["road"] == "captions")


@pytest.mark.integration
def test_the_captions_pass_settings_rerun_nothing_on_a_finished_batch(tmp_path: Path):
    root = tmp_path / "batch"
    batch = _bench(root, 3)
    run_workflow(root, runner="run", **batch)
    settings = yaml.safe_load((root / "bench.yaml").read_text())
    settings["captions"] = {"automatic": "always", "pacing": {"delay": [9, 12], "floor": 4}}
    (root / "bench.yaml").write_text(yaml.safe_dump(settings))
    again = run_workflow(root, "-n", **batch)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]


def _garbage(text: str) -> str:
    """Automatic captions that heard something else: as many words, none of them said."""
    filler = ["banana", "orbit", "velvet", "quarry", "lantern", "pickle", "nimbus", "tractor"]
    return " ".join(filler[i % len(filler)] for i, _ in enumerate(text.split()))


@pytest.mark.slow
def test_the_gate_accepts_a_channels_good_automatic_captions_and_rejects_garbage(tmp_path: Path):
    from claimflow.batch.sources import resolve_video

    videos = [
        SiteVideo("good1", DEMO / "interest.ogg", channel="goodchan", automatic=TEXTS["interest"]),
        SiteVideo("bad1", DEMO / "forests.ogg", channel="badchan", automatic=_garbage(TEXTS["forests"])),
        SiteVideo("good2", DEMO / "sleep.ogg", channel="goodchan", automatic=TEXTS["sleep"]),
        SiteVideo("bad2", DEMO / "sleep.ogg", channel="badchan", automatic=_garbage(TEXTS["sleep"])),
    ]
    captionsite.build(tmp_path / "www", videos)
    with FaultServer(tmp_path / "www") as server:
        urls = {v.vid: server.url(f"site/watch/{v.vid}") for v in videos}
        ids = {name: resolve_video(url, "test").vid for name, url in urls.items()}

        def run(names: list[str]) -> subprocess.CompletedProcess:
            config = {
                "sources": [urls[n] for n in names], "accounts": [{"name": "a1"}],
                "pacing": {"delay": [0.5, 0.5], "floor": 0.2},
                "captions": {"automatic": "gated", "gate": {"sample": 1, "max_wer": 0.4},
                             "pacing": {"delay": [0.3, 0.3], "floor": 0.2}},
                "download": {"ytdlp": {"plugin_dirs": [str(captionsite.PLUGINS)]}},
            }  # fmt: skip
            (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
            # Up to the transcripts: the gate is decided there (mining adds nothing to it).
            targets = tuple(f"results/{ids[n]}/transcript.json" for n in names)
            return run_workflow(tmp_path, targets=targets, runner="run", jobs=4, timeout=1200,
                                configs=(DEMO_CONFIG, tmp_path / "config.yaml"), env=dict(os.environ))  # fmt: skip

        # Each channel's first video is its sample: the audio road, Whisper, and the measure.
        run(["good1", "bad1"])
        sampled = {n: len(captionsite.media_requests(server, n)) for n in ("good1", "bad1")}
        run(["good1", "bad1", "good2", "bad2"])
        later = {n: len(captionsite.media_requests(server, n)) for n in ("good2", "bad2")}
    assert sampled == {"good1": 1, "bad1": 1}
    # After the sample: the accepted channel's video makes no media request, the rejected one's does.
    assert later == {"good2": 0, "bad2": 1}
    transcript = {n: json.loads((tmp_path / "results" / ids[n] / "transcript.json").read_text()) for n in ids}
    assert transcript["good1"]["gate"]["wer"] < 0.4 < transcript["bad1"]["gate"]["wer"]
    assert transcript["good2"]["source"] == "automatic captions"
    assert transcript["bad2"]["source"] == "whisper tiny.en"
    # The decisions, their figures and the sample: `claimflow gate` (and status), reset by the user.
    configs = ["--configfile", str(DEMO_CONFIG), str(tmp_path / "config.yaml")]
    listing = subprocess.run([*CLAIMFLOW, "gate", *configs], cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    assert "goodchan: automatic captions accepted (median WER" in listing
    assert "badchan: automatic captions rejected (median WER" in listing and ids["bad1"] in listing
    reset = subprocess.run([*CLAIMFLOW, "gate", "--reset", "badchan", "--json", *configs], cwd=tmp_path,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert [c["channel"] for c in json.loads(reset.stdout)["channels"]] == ["goodchan"]

"""Inputs as they come from the wild, through the real workflow against a server on loopback
(its request log is the evidence): feeds with a blank line before the declaration, Atom with
iTunes tags, cover art before the audio, relative enclosures, a remote feed naming local files;
a browser's cookie export (with #HttpOnly_ lines) left byte for byte as it was, and a malformed
one refused before any job; rolling caption tracks read with each word once; SRT-only captions
used instead of Whisper. The fixtures are claimflow's own, in the shapes of tests/harness/wildshapes.py."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO, DEMO_CONFIG, REPO, run_workflow
from tests.harness import wildshapes
from tests.harness.faultserver import FaultServer

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, config: dict, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return run_workflow(
        tmp_path,
        *extra,
        check=False,
        timeout=timeout,
        runner="run",
        jobs=4,
        configs=(DEMO_CONFIG, tmp_path / "config.yaml"),
        env=dict(os.environ),
    )


def _everything_written(tmp_path: Path) -> str:
    texts = []
    for folder in ("results", "state", ".snakemake"):
        for path in (tmp_path / folder).rglob("*"):
            if path.is_file() and path.name != "audio":
                texts.append(path.read_text(errors="ignore"))
    return "\n".join(texts)


def _serve_feeds(www: Path, base: str) -> None:
    for name in ("forests.ogg", "sleep.ogg"):
        (www / name).write_bytes((DEMO / name).read_bytes())
    (www / "media").mkdir()
    (www / "media/interest.ogg").write_bytes((DEMO / "interest.ogg").read_bytes())
    (www / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not audio")
    (www / "long.mp3").write_bytes((DEMO / "sleep.ogg").read_bytes())
    wildshapes.write(www, "show.rss", wildshapes.RSS, base=base)
    wildshapes.write(www, "talks.atom", wildshapes.ATOM, base=base)


def test_real_world_feeds_and_a_browser_cookie_export_through_the_workflow(tmp_path):
    www, batch = tmp_path / "www", tmp_path / "batch"
    www.mkdir()
    batch.mkdir()
    # A file beside the sources that a remote feed names, by file: URL and by relative name.
    decoy = batch / "decoy.ogg"
    decoy.write_bytes((REPO / "tests/fixtures/german.ogg").read_bytes())  # real audio, served by no one
    jar = tmp_path / "acct1.cookies.txt"
    jar.write_text(wildshapes.browser_export("127.0.0.1", "c00kie-Wq7Re9"))
    os.chmod(jar, 0o600)
    exported, exported_at = jar.read_bytes(), jar.stat().st_mtime_ns
    with FaultServer(www) as server:
        base = server.url("").rstrip("/")
        _serve_feeds(www, base)
        wildshapes.write(www, "hostile.rss", wildshapes.HOSTILE_RSS, decoy=str(decoy), decoy_name=decoy.name)
        sources = [server.url("show.rss"), server.url("talks.atom"), server.url("hostile.rss")]
        (batch / "sources.txt").write_text("\n".join(sources) + "\n")
        config = {
            "sources": str(batch / "sources.txt"),
            "accounts": [{"name": "acct1", "cookies": str(jar)}, {"name": "acct2"}],
            "pacing": {"delay": [0.2, 0.3], "floor": 0.1, "warmup": {"videos": 0}},
            "filters": {"max_duration": 3600},
            "benchmark": {"sleep": {"transcribe": 0.1, "mine": 0.1, "evaluate": 0.1}},
        }
        run = _run(batch, config)
        requests = [r.path for r in server.requests]
        cookie_headers = [r.cookie for r in server.requests if r.cookie]
    console = run.stdout + run.stderr
    assert run.returncode == 0, run.stderr[-4000:]
    # A feed's id is its file name and a hash of its address: the hash aside, the count lines.
    lines = sorted(re.sub(r"(feed-\w+)-[0-9a-f]{8}", r"\1", line) for line in run.stderr.splitlines()
                   if line.startswith("claimflow: collection "))  # fmt: skip
    assert lines == [
        "claimflow: collection feed-hostile: 1 listed, 1 kept (1 not a web address; duration unknown for 1 (kept))",
        "claimflow: collection feed-show: 3 listed, 2 kept (max_duration removed 1; 1 without media)",
        "claimflow: collection feed-talks: 1 listed, 1 kept (1 without media)",
    ], run.stderr[-3000:]
    # The audio enclosures were fetched; the cover art, the filtered hour and the text-only entry never.
    media = sorted({p for p in requests if not p.endswith((".rss", ".atom"))})
    assert media == ["/decoy.ogg", "/forests.ogg", "/media/interest.ogg", "/sleep.ogg"], requests
    assert "Traceback" not in console
    # The hostile feed's relative names went to the feed's server (404 there), never to the disk.
    results = batch / "results"
    manifests = {p.parent.name: json.loads(p.read_text()) for p in results.glob("*/download.json")}
    assert not any(vid.startswith("file-") for vid in manifests)
    decoy_video = next(m for m in manifests.values() if m["source"].endswith("/decoy.ogg"))
    assert decoy_video["status"] == "unavailable" and "404" in decoy_video["reason"]
    assert not any(p.read_bytes() == decoy.read_bytes() for p in results.glob("*/audio"))
    assert "claimflow: 4 videos: 3 ok, 0 partial, 0 failed, 1 unavailable" in run.stderr
    (listing,) = map(json.loads, map(Path.read_text, results.glob("collections/feed-show-*/listing.json")))
    durations = {e["entry_id"]: e["duration"] for e in listing["entries"]}
    assert durations == {"show-ep-3": 31.0, "show-ep-2": 33.0, "show-bonus": 3723.0}  # seconds and HH:MM:SS
    conn = sqlite3.connect(results / "claimflow.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM collection_videos WHERE kept = 1").fetchone()[0] == 4
    # The browser export: sent to the site, in no output, and the file exactly as exported.
    assert cookie_headers and all("SID=c00kie-Wq7Re9-sid" in c for c in cookie_headers)
    assert "c00kie-Wq7Re9" not in console and "c00kie-Wq7Re9" not in _everything_written(batch)
    assert jar.read_bytes() == exported and jar.stat().st_mtime_ns == exported_at


def test_a_malformed_cookie_file_stops_the_run_before_any_job_naming_the_lines_never_a_value(tmp_path):
    jar = tmp_path / "acct1.cookies.txt"
    jar.write_text(wildshapes.malformed_export("127.0.0.1", "c00kie-Bad4Xz"))
    os.chmod(jar, 0o600)
    exported = jar.read_bytes()
    config = {"sources": [str(DEMO / "sleep.ogg")], "accounts": [{"name": "acct1", "cookies": str(jar)}]}
    run = _run(tmp_path, config, timeout=300)
    assert run.returncode == 1
    preflight = f"claimflow preflight: FAIL  cookies     account acct1: cookie file {jar} is not a valid Netscape "
    assert preflight in run.stderr
    assert "line 5: 6 fields where a cookie entry has 7; line 8: its expiry" in run.stderr
    assert "c00kie-Bad4Xz" not in run.stdout + run.stderr + _everything_written(tmp_path)
    assert not list((tmp_path / "results").glob("file-*"))  # no job ran
    assert jar.read_bytes() == exported


def _page(www: Path, name: str, track: str, track_text: str) -> None:
    (www / f"{name}.ogg").write_bytes((DEMO / "sleep.ogg").read_bytes())
    (www / track).write_text(track_text)
    (www / f"{name}.html").write_text(
        f"<!DOCTYPE html><html><head><title>{name}</title></head><body><video controls>"
        f'<source src="{name}.ogg" type="audio/ogg">'
        f'<track kind="subtitles" src="{track}" srclang="en" label="English"></video></body></html>'
    )


def test_rolling_captions_read_once_and_srt_only_captions_replace_whisper(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    _page(www, "rolling", "rolling.en.vtt", wildshapes.ROLLING_VTT)
    _page(www, "srtonly", "srtonly.en.srt", wildshapes.ROLLING_SRT)
    with FaultServer(www) as server:
        config = {"sources": [server.url("rolling.html"), server.url("srtonly.html")],
                  "accounts": [{"name": "a1"}], "pacing": {"delay": [0.1, 0.2], "floor": 0.1}}  # fmt: skip
        run = _run(tmp_path, config)
        fetched = sorted({r.path for r in server.requests})
    assert run.returncode == 0, run.stderr[-4000:]
    # The captions pass found both tracks: no audio was downloaded for either.
    assert fetched == ["/rolling.en.vtt", "/rolling.html", "/srtonly.en.srt", "/srtonly.html"]
    results = tmp_path / "results"
    transcripts = {json.loads(p.read_text())["captions"]["format"]: json.loads(p.read_text())
                   for p in results.glob("*/transcript.json")}  # fmt: skip
    assert set(transcripts) == {"vtt", "srt"}
    for served, doc in transcripts.items():
        assert doc["source"] == "human captions" and doc["captions"]["rolled"] >= 2
        assert " ".join(s["text"] for s in doc["segments"]) == wildshapes.ROLLING_WORDS  # each word once
        log = (results / "logs/transcribe" / f"{doc['vid']}.log").read_text()
        assert "Whisper skipped" in log and "whisper tiny.en on" not in log, served
    first_words = [w["word"] for w in transcripts["vtt"]["segments"][0]["words"]]
    assert first_words == ["sleep", "is", "essential", "for", "memory"]
    # Claims mined from it are grounded in the collapsed text: every quote is the transcript's own.
    quotes = []
    for doc in transcripts.values():
        text = " ".join(s["text"] for s in doc["segments"])
        claims = json.loads((results / doc["vid"] / "claims.json").read_text())["claims"]
        quotes += [(span["quote"], text) for claim in claims for span in claim["evidence_spans"]]
    assert quotes, "the bundled model mined no claim from the captions"
    assert all(quote.lower() in text.lower() for quote, text in quotes)

"""Transcription paths through the real workflow: captions first; silence, music and German
speech (not English to the English-only model); unavailable."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
import yaml

from tests.conftest import DEMO_CONFIG, REPO, run_workflow, write_silence
from tests.harness.faultserver import FaultServer
from tests.test_download import _captioned_page, _jar

FIXTURES = REPO / "tests/fixtures"

pytestmark = pytest.mark.slow


def test_captions_skip_whisper_silence_yields_nothing_and_dead_videos_pass_through(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    _captioned_page(www)
    silent = write_silence(tmp_path / "silence.wav", 8)
    jar = _jar(tmp_path, "a")
    os.chmod(jar, 0o644)  # readable by others: the run says so on its console, and goes on
    with FaultServer(www) as server:
        sources = [server.url("talk.html"), str(silent), server.url("removed.ogg"), str(FIXTURES / "tune.ogg"),
                   str(FIXTURES / "german.ogg")]  # fmt: skip
        config = {"sources": sources, "accounts": [{"name": "a", "cookies": jar}],
                  "pacing": {"delay": [0.1, 0.2], "floor": 0.1}}  # fmt: skip
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        run = run_workflow(tmp_path, jobs=4, configs=(DEMO_CONFIG, tmp_path / "config.yaml"), env=dict(os.environ))
    assert f"account a: cookie file {jar} is readable by other users (mode 644); run `chmod 600" in run.stderr
    assert "a-token" not in run.stderr + run.stdout
    results = tmp_path / "results"
    transcripts = {p.parent.name: json.loads(p.read_text()) for p in results.glob("*/transcript.json")}
    by_source = {t["source"]: t for t in transcripts.values()}
    captioned = by_source["human captions"]
    assert [s["text"] for s in captioned["segments"]][0] == "Sleep is essential for memory."
    log = (results / "logs/transcribe" / f"{captioned['vid']}.log").read_text()
    assert "Whisper skipped" in log and "whisper tiny.en on" not in log
    silent_doc = transcripts["file-silence"]
    assert silent_doc["status"] == "no_speech" and silent_doc["source"] == "whisper tiny.en"
    dead = next(t for t in transcripts.values() if t["vid"].startswith("generic-removed"))
    assert dead["status"] == "unavailable" and "404" in dead["reason"]
    conn = sqlite3.connect(results / "claimflow.sqlite")
    statuses = dict(conn.execute("SELECT vid, status FROM videos"))
    assert statuses == {captioned["vid"]: "ok", "file-silence": "no_speech", dead["vid"]: "unavailable",
                        "file-tune": "no_speech", "file-german": "not_english"}  # fmt: skip
    assert "music or noise" in transcripts["file-tune"]["reason"]
    assert "audio is silent" in silent_doc["reason"]
    german = transcripts["file-german"]
    assert german["segments"] and german["language"] is None and "probably not English" in german["reason"]
    assert "claimflow: 5 videos: 1 ok, 0 partial, 0 failed, 1 unavailable, 2 no speech, 1 not English\n" in run.stderr
    claims = dict(conn.execute("SELECT vid, COUNT(*) FROM claims GROUP BY vid"))
    assert set(claims) == {captioned["vid"]}  # nothing invented from silence, music or misread German
    for vid in ("file-silence", dead["vid"], "file-tune", "file-german"):
        doc = json.loads((results / vid / "claims.json").read_text())
        assert doc["claims"] == [] and doc["usage"]["requests"] == 0
    rows = [line.split("\t") for line in (results / "summary.tsv").read_text().splitlines()]
    by_vid = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_vid["file-silence"]["status"] == "no_speech"
    assert by_vid[dead["vid"]]["status"] == "unavailable" and by_vid[dead["vid"]]["reason_class"] == "not_found"

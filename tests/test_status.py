"""`claimflow status` on arranged batch folders: stage counts from the files, failed jobs from
their logs, Snakemake's in-progress record, rates, the ETA and its bounding stage, accounts."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from claimflow.commands import status
from claimflow.core import config as cf_config
from tests.conftest import CLAIMFLOW

NOW = 1_800_000_000.0
STAGE_FILES = ["download.json", "transcript.json", "claims.json", "evaluation.json", "stored.json"]


def make_batch(root: Path, stages_done: dict[str, int], finished_at: dict[str, list[float]] | None = None) -> dict:
    """A batch folder: `stages_done[vid]` = how many stages that video has finished."""
    (root / "media").mkdir(parents=True)
    lines = []
    for vid, done in stages_done.items():
        clip = root / "media" / f"{vid}.ogg"
        clip.write_bytes(b"x")
        lines.append(str(clip))
        folder = root / "results" / f"file-{vid}"
        folder.mkdir(parents=True)
        times = (finished_at or {}).get(vid) or [NOW - 600 + 60 * i for i in range(5)]
        for index, name in enumerate(STAGE_FILES[:done]):
            usage = {"prompt_tokens": 100, "completion_tokens": 50, "requests": 1, "cost_usd": 0.001}
            outcome = "partial" if vid == "two" and name == "claims.json" else "ok"
            doc = {"vid": f"file-{vid}", "status": outcome, "duration": 1800.0, "usage": usage}
            if name == "download.json":
                doc["job"] = {"started": times[0] - 30}
                (folder / "audio").write_bytes(b"OggS audio")
            (folder / name).write_text(json.dumps(doc))
            os.utime(folder / name, (times[index], times[index]))
    (root / "sources.txt").write_text("\n".join(lines) + "\n")
    overrides = {"sources": str(root / "sources.txt"), "results": str(root / "results"),
                 "state": str(root / "state"), "accounts": [{"name": "a"}, {"name": "b"}]}  # fmt: skip
    return cf_config.load(overrides=overrides)


def mark_incomplete(workdir: Path, output: str) -> None:
    """What Snakemake writes when a job starts: the output path, URL-safe base64, as a file name."""
    folder = workdir / ".snakemake" / "incomplete"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / base64.urlsafe_b64encode(output.encode()).decode()).write_text("{}")


def test_counts_each_stage_from_the_files_and_the_failed_log(tmp_path: Path):
    config = make_batch(tmp_path, {"one": 5, "two": 3, "three": 1, "four": 0})
    log = tmp_path / "results/logs/transcribe/file-three.log"
    log.parent.mkdir(parents=True)
    log.write_text("2026 ERROR job failed: RuntimeError: boom\n")
    found = status.collect(config, workdir=tmp_path, now=NOW)
    s = found.stages
    assert (s["download"].done, s["download"].waiting) == (3, 1)
    assert (s["transcribe"].done, s["transcribe"].failed, s["transcribe"].waiting) == (2, 1, 0)
    assert (s["mine"].done, s["mine"].waiting) == (2, 0)
    assert (s["evaluate"].done, s["evaluate"].waiting) == (1, 1)
    assert (s["store"].done, s["store"].waiting) == (1, 0)
    assert found.failed_videos == [{"vid": "file-three", "stage": "transcribe", "log": str(log)}]
    assert found.buffer.size == 1  # "three": its audio downloaded, not transcribed
    # LLM usage of unstored videos comes from their claims.json and evaluation.json
    assert found.llm.prompt_tokens == 100 * 3 and found.llm.requests == 3
    assert found.audio_hours == pytest.approx(1.0)  # two transcripts of 30 minutes
    assert found.outcomes == {"partial, not stored yet": 1}  # "two": mined with failed windows


def test_running_jobs_come_from_snakemakes_record_and_are_interrupted_when_no_snakemake_runs(tmp_path: Path):
    config = make_batch(tmp_path, {"one": 1, "two": 0})
    mark_incomplete(tmp_path, "results/file-one/transcript.json")
    mark_incomplete(tmp_path, "results/file-two/download.json")
    found = status.collect(config, workdir=tmp_path, now=NOW)
    assert found.snakemake_running is False  # nothing runs in this folder
    assert found.stages["download"].interrupted == 1 and found.stages["transcribe"].interrupted == 1


def test_long_output_paths_split_by_snakemake_are_decoded(tmp_path: Path):
    path = "results/" + "x" * 300 + "/download.json"
    encoded = base64.urlsafe_b64encode(path.encode()).decode()
    folder = tmp_path / ".snakemake" / "incomplete" / ("@" + encoded[:254])
    folder.mkdir(parents=True)
    (folder / encoded[254:]).write_text("{}")
    assert status.incomplete_outputs(tmp_path) == {str(tmp_path / path)}


def test_running_jobs_are_found_with_an_absolute_results_path(tmp_path: Path, monkeypatch):
    # `results: /abs/path` (the README's own example): Snakemake records absolute outputs.
    config = make_batch(tmp_path, {"one": 1, "two": 1, "three": 0})
    mark_incomplete(tmp_path, str(tmp_path / "results/file-one/transcript.json"))
    mark_incomplete(tmp_path, str(tmp_path / "results/file-two/transcript.json"))
    monkeypatch.setattr(status, "snakemake_running", lambda workdir: True)
    running = status.collect(config, workdir=tmp_path, now=NOW).stages["transcribe"]
    assert (running.running, running.waiting) == (2, 0)
    monkeypatch.setattr(status, "snakemake_running", lambda workdir: False)  # after kill -9
    stopped = status.collect(config, workdir=tmp_path, now=NOW).stages["transcribe"]
    assert (stopped.interrupted, stopped.running, stopped.waiting) == (2, 0, 0)


def test_rates_and_the_eta_name_the_stage_that_bounds_the_batch(tmp_path: Path, monkeypatch):
    # Two of four videos downloaded in the last hour; only one mined: mining is the bound.
    monkeypatch.setattr(status, "snakemake_running", lambda workdir: True)
    hour = 3600.0
    times = {"one": [NOW - 3 * hour + i for i in range(5)], "two": [NOW - 1800 + i for i in range(5)],
             "three": [NOW - 900, NOW - 800, 0, 0, 0]}  # fmt: skip
    config = make_batch(tmp_path, {"one": 5, "two": 3, "three": 2, "four": 0}, times)
    found = status.collect(config, workdir=tmp_path, now=NOW)
    download = found.stages["download"]
    assert download.last_hour == 2 and download.per_hour_last_hour == 2.0
    assert download.eta_seconds == pytest.approx(1 / 2 * hour)  # one left at two an hour
    assert found.stages["mine"].last_hour == 1 and found.stages["mine"].eta_seconds == pytest.approx(2 * hour)
    assert found.bound_by in ("mine", "evaluate", "store") and found.eta_seconds >= 2 * hour
    assert found.elapsed_seconds == pytest.approx(3 * hour + 30)


def test_a_first_download_stamped_ahead_of_this_clock_gives_no_rate_rather_than_a_negative_one(tmp_path: Path):
    # Results written on another host whose clock runs ahead (or this clock set back).
    ahead = {"one": [NOW + 600 + 60 * i for i in range(5)]}
    config = make_batch(tmp_path, {"one": 5}, ahead)
    found = status.collect(config, workdir=tmp_path, now=NOW)
    assert found.audio_hours == pytest.approx(0.5)
    assert found.audio_hours_per_hour is None and found.stages["download"].per_hour is None


def test_without_a_live_run_there_is_no_eta_but_the_last_runs_times(tmp_path: Path):
    import datetime as dt

    from claimflow.commands import statusview

    config = make_batch(tmp_path, {"one": 5, "two": 2})
    log = tmp_path / ".snakemake/log" / f"{dt.datetime.fromtimestamp(NOW - 4000).isoformat()}.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text("...")
    os.utime(log, (NOW - 3000, NOW - 3000))  # it ran 1000 s and ended 50 minutes ago
    found = status.collect(config, workdir=tmp_path, now=NOW)
    assert found.snakemake_running is False and found.eta_seconds is None and found.elapsed_seconds is None
    assert all(stage.eta_seconds is None for stage in found.stages.values())
    assert found.last_run.seconds == pytest.approx(1000) and found.last_run.ended == pytest.approx(NOW - 3000)
    text = _plain(statusview.render(found, plain=True))
    assert "snakemake: not running | last run " in text and "ran 16m 40s" in text and "(50m 00s ago)" in text
    assert "ETA" not in text.splitlines()[1] and "(as of " in text.splitlines()[0]


def test_each_downloaded_videos_road_and_the_captions_pass_are_counted(tmp_path: Path):
    import sqlite3

    from claimflow.commands import statusview

    config = make_batch(tmp_path, {"one": 5, "two": 2, "three": 1, "four": 0})
    results = tmp_path / "results"
    for vid in ("two", "three"):  # captioned: no account's turn, no audio
        manifest = json.loads((results / f"file-{vid}/download.json").read_text()) | {"road": "captions"}
        (results / f"file-{vid}/download.json").write_text(json.dumps(manifest))
    for vid in ("one", "two", "three"):
        (results / f"file-{vid}/captions.json").write_text("{}")
    # "one" is stored, in a database from before the roads (schema 5, no `road`): the audio road.
    conn = sqlite3.connect(results / "claimflow.sqlite")
    conn.execute("CREATE TABLE videos (vid TEXT PRIMARY KEY, status TEXT, reason TEXT, duration REAL, "
                 "prompt_tokens INTEGER, completion_tokens INTEGER, llm_requests INTEGER, llm_cached INTEGER, "
                 "cost_usd REAL)")  # fmt: skip
    conn.execute("INSERT INTO videos VALUES ('file-one', 'ok', NULL, 1800, 1, 1, 1, 0, 0)")
    conn.commit()
    conn.close()
    found = status.collect(config, workdir=tmp_path, now=NOW)
    assert (found.roads, found.captions_asked) == ({"audio": 1, "captions": 2}, 3)
    text = _plain(statusview.render(found, plain=True))
    assert "roads: 1 audio, 2 captions; the captions pass asked about 3 of 4" in text
    assert found.linked == 0 and "linked across" not in text  # no link job has run
    (results / "file-one/linked.json").write_text("{}")
    found = status.collect(config, workdir=tmp_path, now=NOW)
    assert found.linked == 1
    assert "linked across the batch: 1 of 1 stored videos" in _plain(statusview.render(found, plain=True))


def test_a_next_start_that_has_passed_is_now(tmp_path: Path):
    from claimflow.commands import statusview

    assert statusview.clock(NOW - 60, NOW, upcoming=True) == "now"
    assert statusview.clock(NOW + 60, NOW, upcoming=True).endswith("(in 1m 00s)")
    assert statusview.clock(NOW - 60, NOW).endswith("(1m 00s ago)")


def _plain(group) -> str:  # noqa: ANN001
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(group)
    return console.export_text()


def test_accounts_show_paused_disabled_and_the_next_allowed_start(tmp_path: Path):
    config = make_batch(tmp_path, {"one": 1})
    accounts = tmp_path / "state/accounts"
    accounts.mkdir(parents=True)
    (accounts / "a.json").write_text(json.dumps({"status": "active", "last_start": NOW - 10, "downloads_started": 9,
                                                 "multiplier": 1.5, "successes": 8, "failures": 1,
                                                 "paused_until": NOW + 600}))  # fmt: skip
    (accounts / "b.json").write_text(json.dumps({"status": "disabled", "disabled_reason": "cookies expired"}))
    found = {a.name: a for a in status.collect(config, workdir=tmp_path, now=NOW).accounts}
    assert found["a"].status == "paused" and found["a"].paused_until == NOW + 600
    assert found["a"].next_start == NOW + 600 and (found["a"].downloads, found["a"].failures) == (8, 1)
    assert found["b"].status == "disabled" and found["b"].reason == "cookies expired"
    (accounts / "a.json").write_text(json.dumps({"last_start": NOW - 10, "downloads_started": 9, "multiplier": 2.0}))
    active = status.collect(config, workdir=tmp_path, now=NOW).accounts[0]
    low = cf_config.load()["pacing"]["delay"][0]
    assert active.status == "active" and active.next_start == pytest.approx(NOW - 10 + 2.0 * low)


def _paced_accounts(root: Path) -> dict:
    """Three accounts past their warm-up, each last started 10 s ago: one paced by the batch, one
    by its own delay, one by its own floor (above the batch's delay)."""
    config = make_batch(root, {"one": 1})
    config["pacing"] |= {"delay": [100.0, 200.0], "floor": 30.0}
    config["accounts"] = [
        {"name": "batch"},
        {"name": "slower", "delay": [600, 900]},
        {"name": "floored", "floor": 1000},
    ]
    accounts = root / "state/accounts"
    accounts.mkdir(parents=True)
    for entry in config["accounts"]:
        (accounts / f"{entry['name']}.json").write_text(json.dumps({"last_start": NOW - 10, "downloads_started": 500}))
    return config


def test_each_accounts_next_start_follows_its_own_delay_and_floor(tmp_path: Path):
    config = _paced_accounts(tmp_path)
    found = {a.name: a.next_start for a in status.collect(config, workdir=tmp_path, now=NOW).accounts}
    assert found == {"batch": NOW - 10 + 100, "slower": NOW - 10 + 600, "floored": NOW - 10 + 1000}


@pytest.mark.integration
def test_status_json_gives_each_accounts_own_next_start(tmp_path: Path):
    config = _paced_accounts(tmp_path)
    keys = ("sources", "results", "state", "accounts", "pacing")
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({key: config[key] for key in keys}))
    run = subprocess.run([*CLAIMFLOW, "status", "--json", "--configfile", str(tmp_path / "mine.yaml")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    found = {a["name"]: a["next_start"] - a["last_start"] for a in json.loads(run.stdout)["accounts"]}
    assert found == {"batch": pytest.approx(100), "slower": pytest.approx(600), "floored": pytest.approx(1000)}

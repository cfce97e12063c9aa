"""Honest outcomes through real Snakemake runs: setup faults stop the run before its first
job, partial work is counted as partial and a plain rerun retries only what failed, and the
last line and the exit status say what happened."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_CONFIG, REPO, run_workflow
from tests.harness.llmserver import FaultProxy, LLMFault

pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, config: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (workdir / "config.yaml").write_text(yaml.safe_dump({"sources": str(REPO / "demo/sources.txt")} | config))
    run = run_workflow(workdir, *args, check=False, jobs=4, configs=(DEMO_CONFIG, workdir / "config.yaml"), env=env)
    run.output = run.stdout + run.stderr
    return run


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_missing_key_stops_the_run_before_its_first_job(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFLOW_TEST_KEY"} | {"CI": "true"}
    run = _snakemake(tmp_path, {"llm": {"provider": "openai", "model": "gpt-4o-mini",
                                        "api_key_env": "CLAIMFLOW_TEST_KEY"}}, env=env)  # fmt: skip
    assert run.returncode != 0
    assert "claimflow preflight: FAIL  llm" in run.output and "$CLAIMFLOW_TEST_KEY is not set" in run.output
    assert "fix: export CLAIMFLOW_TEST_KEY=<your key>" in run.output
    assert not list(tmp_path.glob("results/*/download.json"))  # nothing ran, nothing is marked done


def test_an_endpoint_that_does_not_answer_stops_the_run_and_the_fixed_run_completes(llama_base_url, tmp_path):
    down = {"llm": {"provider": "openai", "base_url": f"http://127.0.0.1:{_closed_port()}/v1", "model": "smollm2",
                    "max_retries": 1}}  # fmt: skip
    run = _snakemake(tmp_path, down)
    assert run.returncode != 0 and "did not answer" in run.output and "fix: start the server" in run.output
    assert not list(tmp_path.glob("results/*/download.json"))
    # Fixed: the same command completes (one clip is enough to show it; the demo's three are
    # mined through this server by the tests below).
    fixed = {"llm": {"provider": "openai", "base_url": llama_base_url, "model": "smollm2", "timeout": 300},
             "sources": [str(REPO / "demo/sleep.ogg")]}  # fmt: skip
    run = _snakemake(tmp_path, fixed)
    assert run.returncode == 0, run.output[-3000:]
    assert "claimflow: 1 videos: 1 ok, 0 partial, 0 failed, 0 unavailable, 0 no speech" in run.stderr


def test_failed_windows_make_a_video_partial_and_a_plain_rerun_asks_only_for_them(llama_base_url, tmp_path):
    with FaultProxy(llama_base_url) as proxy:
        # The first window's answer and its one repair are cut off: that window fails.
        proxy.add(LLMFault("malformed"))
        proxy.add(LLMFault("malformed"))
        # One LLM job at a time and no format probe: both faults meet the first window.
        config = {"llm": {"provider": "openai", "base_url": proxy.base_url, "model": "smollm2", "timeout": 300,
                          "max_concurrency": 1, "response_format": "json_object"},
                  # Two clips: one to fail a window, one finished whose answers the rerun must not ask again.
                  "sources": [str(REPO / "demo/sleep.ogg"), str(REPO / "demo/forests.ogg")]}  # fmt: skip
        first = _snakemake(tmp_path, config)
        assert first.returncode == 3, first.output[-3000:]  # documented: 3 = some videos are partial
        assert "claimflow: 2 videos: 1 ok, 1 partial, 0 failed" in first.stderr
        rows = {r.split("\t")[0]: r.split("\t") for r in (tmp_path / "results/summary.tsv").read_text().splitlines()}
        partial = [vid for vid, row in rows.items() if row[1] == "partial"]
        assert len(partial) == 1 and "1 of 1 windows failed" in rows[partial[0]][2]
        claims = json.loads((tmp_path / "results" / partial[0] / "claims.json").read_text())
        assert claims["status"] == "partial" and len(claims["failed_windows"]) == 1
        asked = len(proxy.requests)

        again = _snakemake(tmp_path, config)  # the same command, nothing deleted by hand
        assert again.returncode == 0, again.output[-3000:]
        assert "claimflow: 2 videos: 2 ok, 0 partial, 0 failed" in again.stderr
        retried = proxy.requests[asked:]
        # The failed window once more (its repair only if needed), then that video's evaluation:
        # no request for the finished video, whose answers sit in the cache.
        assert 1 <= len(retried) <= 4, retried
        claims = json.loads((tmp_path / "results" / partial[0] / "claims.json").read_text())
        assert claims["status"] == "ok" and not claims["failed_windows"]
        third = _snakemake(tmp_path, config, "-n")
        assert "Nothing to be done" in third.output  # the retry round holds still once done


def test_a_broken_file_next_to_good_ones_still_gets_the_summary_and_the_counted_last_line(tmp_path):
    (tmp_path / "empty.ogg").write_bytes(b"")
    (tmp_path / "notes.mp3").write_text("meeting notes, not audio\n" * 40)
    # One good clip beside the broken ones (each good one costs the bundled model minutes here).
    clips = [REPO / "demo/sleep.ogg"]
    clips += [tmp_path / "empty.ogg", tmp_path / "notes.mp3", f"http://127.0.0.1:{_closed_port()}/talk.ogg"]
    (tmp_path / "videos.txt").write_text("".join(f"{clip}\n" for clip in clips))
    run = _snakemake(tmp_path, {"sources": str(tmp_path / "videos.txt")}, "--retries", "0")
    assert run.returncode == 1
    line = "claimflow: 4 videos: 1 ok, 0 partial, 1 failed (at download: 1), 2 unavailable, 0 no speech"
    assert line in run.stderr, run.stderr[-2000:]
    rows = [line.split("\t") for line in (tmp_path / "results/summary.tsv").read_text().splitlines()[1:]]
    # the summary is where users look
    assert sorted(r[1] for r in rows) == ["failed:download", "ok", "unavailable", "unavailable"]
    # A file that cannot be audio is the input's property: unavailable, saying why and what to do.
    empty = json.loads((tmp_path / "results/file-empty/download.json").read_text())
    notes = json.loads((tmp_path / "results/file-notes/download.json").read_text())
    assert empty["reason_class"] == "empty_file" and "empty.ogg is empty (0 bytes)" in empty["reason"]
    assert notes["reason_class"] == "not_media" and "notes.mp3 is not a media file" in notes["reason"]
    assert "claimflow unavailable --retry not_media" in notes["reason"]


def test_a_key_refused_mid_batch_stops_llm_work_at_once_naming_the_variable(llama_base_url, tmp_path):
    env = os.environ | {"CI": "true", "CLAIMFLOW_TEST_KEY": "sk-test-revoked-0001"}
    with FaultProxy(llama_base_url) as proxy:
        # The preflight's model list passes (the key was good at the start); the key is refused from
        # the first chat request on: revoked mid-batch. One LLM job at a time: the count is exact.
        refused = proxy.add(LLMFault("status", status=401, times=None))
        config = {"llm": {"provider": "openai", "base_url": proxy.base_url, "model": "smollm2", "timeout": 300,
                          "max_concurrency": 1, "response_format": "json_object",
                          "api_key_env": "CLAIMFLOW_TEST_KEY"}}  # fmt: skip
        # Two of the demo's clips (each LLM job through the real server costs minutes on 2 cores).
        config["sources"] = [str(REPO / "demo/sleep.ogg"), str(REPO / "demo/interest.ogg")]
        first = _snakemake(tmp_path, config, env=env)
        assert first.returncode == 1
        assert len(proxy.requests) == 1, [r.answer for r in proxy.requests]  # not one per video and retry
        stop = "LLM work stopped: endpoint " + proxy.base_url + " refused the key in $CLAIMFLOW_TEST_KEY (HTTP 401)"
        said = [line for line in first.stderr.splitlines() if line.startswith(f"claimflow: {stop}")]
        closing = [line for line in said if "has the details" not in line]  # not a job's own line
        assert len(closing) == 1 and "export a valid key as CLAIMFLOW_TEST_KEY" in closing[0]  # said once at the end
        assert first.stderr.count("this run's LLM work is stopped") >= 2  # the other jobs: short, no request
        counted = "claimflow: 2 videos: 0 ok, 0 partial, 2 failed (at mine: 2), 0 unavailable, 0 no speech"
        assert counted in first.stderr.splitlines()
        assert "sk-test-revoked-0001" not in first.stdout + first.stderr
        refused.times = 0  # a valid key exported
        again = _snakemake(tmp_path, config, env=env)
    assert again.returncode == 0, again.output[-3000:]
    assert "claimflow: 2 videos: 2 ok" in again.stderr and "LLM work stopped" not in again.stderr

import json
import random

import pytest

from claimflow.core.settings import Adaptive, Buffer
from claimflow.download import buffer, health
from claimflow.download.accounts import book

ADAPTIVE = Adaptive(failure_multiplier=1.5, success_step=0.1, max_failures=3, pause=(3600, 7200))


def test_rate_limits_grow_the_multiplier_and_three_in_a_row_pause():
    state: dict = {}
    for expected in (1.5, 2.25):
        health.on_rate_limited(state, ADAPTIVE, now=100.0)
        assert state["multiplier"] == expected
    assert "paused_until" not in state
    health.on_rate_limited(state, ADAPTIVE, now=100.0, rng=random.Random(3))
    assert 3700 <= state["paused_until"] <= 7300


def test_success_shrinks_the_multiplier_back_to_one_and_resets_the_streak():
    state = {"multiplier": 1.25, "rate_limit_streak": 2}
    health.on_success(state, ADAPTIVE, now=1.0)
    assert state["multiplier"] == pytest.approx(1.15) and state["rate_limit_streak"] == 0
    for _ in range(5):
        health.on_success(state, ADAPTIVE, now=1.0)
    assert state["multiplier"] == 1.0


def test_transient_backoff_grows_exponentially():
    state: dict = {}
    waits = []
    for _ in range(4):
        health.on_transient(state, now=0.0, base=5.0, rng=random.Random(0))
        waits.append(state["not_before"])
    assert waits == sorted(waits) and waits[-1] > 4 * waits[0]


def test_disabled_account_comes_back_when_its_cookie_file_is_replaced(tmp_path):
    jar = tmp_path / "c.txt"
    jar.write_text("x")
    state: dict = {}
    health.on_auth_failed(state, "HTTP 401", now=1.0, cookies_mtime=health.cookie_mtime(str(jar)))
    health.refresh(state, health.cookie_mtime(str(jar)))
    assert health.is_disabled(state)
    import os

    os.utime(jar, (2e9, 2e9))
    health.refresh(state, health.cookie_mtime(str(jar)))
    assert not health.is_disabled(state)


def test_buffer_counts_downloaded_audio_not_yet_transcribed(tmp_path):
    videos = {"a": ["download.json", "audio"], "b": ["download.json", "audio", "transcript.json"], "c": [],
              "captioned": ["download.json"], "deleted-audio": ["download.json"]}  # fmt: skip
    for name, files in videos.items():
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f).write_text("{}")
    (tmp_path / "captioned/audio").write_text("")  # the captions road: an empty audio file
    # Only `a` holds audio that transcription has still to read.
    assert buffer.count(tmp_path) == 1
    limits = Buffer(min=20, target=50, max=100, fast=0.5, slow=1.5, poll=30, max_wait=3600)
    assert [buffer.factor(n, limits) for n in (0, 19, 20, 50, 51, 99, 100)] == [0.5, 0.5, 1.0, 1.0, 1.5, 1.5, None]


def test_a_job_books_its_assigned_account_and_each_retry_the_next_one(tmp_path):
    names = ["a", "b", "c"]
    assert book("a", names) == "a" and book("b", names) == "b"
    assert [book("b", names, attempt) for attempt in (1, 2, 3, 4)] == ["b", "c", "a", "b"]
    # A pure function: no state file is read while the DAG is built, even a disabled account's.
    (tmp_path / "a.json").write_text(json.dumps({"status": "disabled"}))
    assert book("a", names) == "a"  # the job itself fails over, under the account's lock

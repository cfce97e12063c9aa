"""The summary's rows for videos that are not stored: failed, interrupted or pending at the first
stage they lack, with the reason their log gives; the last line and its exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimflow.store import summary


def _video(results: Path, vid: str, done: list[str]) -> Path:
    folder = results / vid
    folder.mkdir(parents=True)
    for name in done:
        (folder / name).write_text("{}")
    return folder


def test_a_video_failed_at_mine_carries_the_reason_its_log_gives(tmp_path: Path):
    results = tmp_path / "results"
    _video(results, "v1", ["download.json", "transcript.json"])
    log = results / "logs/mine/v1.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-12-01 10:00:00 INFO claimflow.knowledge.mine: 17 windows\n"
        "2026-12-01 10:02:00 ERROR claimflow: job failed: EndpointError: endpoint api.example.org failed "
        "after 5 retries (last: 503). Fix: check the server\nTraceback (most recent call last):\n  ...\n"
    )
    status, reason = summary.unstored(results, "v1")
    assert status == "failed:mine"
    assert reason == "EndpointError: endpoint api.example.org failed after 5 retries (last: 503). Fix: check the server"


def test_the_last_attempt_decides_interrupted_after_a_failure(tmp_path: Path):
    results = tmp_path / "results"
    _video(results, "v1", ["download.json"])
    log = results / "logs/transcribe/v1.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "... ERROR claimflow: job failed: RuntimeError: boom\n"
        "... WARNING claimflow: job interrupted: stopped by SIGTERM; the same command again redoes it\n"
    )
    assert summary.unstored(results, "v1") == ("interrupted:transcribe",
                                                "stopped by SIGTERM; the same command again redoes it")  # fmt: skip
    # Not downloaded yet: pending at download, its captions pass asked or not (many videos have
    # none: a local file, a media address); a pass that failed says so.
    _video(results, "v2", [])
    assert summary.unstored(results, "v2") == ("pending:download", None)
    _video(results, "v3", ["captions.json"])
    assert summary.unstored(results, "v3") == ("pending:download", None)
    failed = results / "logs/captions/v2.log"
    failed.parent.mkdir(parents=True)
    reason = "CaptionsFailed: v2: captions: rate_limited: HTTP 429"
    failed.write_text(f"... ERROR claimflow: job failed: {reason}\n")
    assert summary.unstored(results, "v2") == ("failed:captions", reason)


def test_the_last_line_counts_interrupted_videos_and_exits_130_unless_some_failed():
    rows = [{"status": "ok"}, {"status": "interrupted:mine"}, {"status": "pending:mine"}]
    line, code = summary.last_line(rows)
    assert line == ("claimflow: 3 videos: 1 ok, 0 partial, 0 failed, 0 unavailable, 0 no speech, "
                    "1 interrupted (at mine: 1), 1 pending (at mine: 1)")  # fmt: skip
    assert code == summary.EXIT_INTERRUPTED == 130
    assert summary.last_line([*rows, {"status": "failed:download"}])[1] == 1
    assert summary.last_line([{"status": "ok"}, {"status": "partial"}])[1] == 3


def test_a_stored_video_whose_linking_failed_is_counted_and_fails_the_run(tmp_path):
    results = tmp_path / "results"
    for vid in ("linked", "broken", "waiting", "no-speech"):
        (results / vid).mkdir(parents=True)
    (results / "linked/linked.json").write_text("{}")
    (results / "logs/link").mkdir(parents=True)
    (results / "logs/link/broken.log").write_text(
        "2026 INFO start\n2026 ERROR job failed: OperationalError: disk I/O error\n"
    )
    (results / "logs/embed").mkdir(parents=True)
    (results / "logs/embed/no-speech.log").write_text("2026 ERROR job failed: ValueError: boom\n")
    rows = [{"vid": "linked", "status": "ok"}, {"vid": "broken", "status": "ok"}, {"vid": "waiting", "status": "ok"},
            {"vid": "no-speech", "status": "no_speech"}, {"vid": "gone", "status": "failed:mine"}]  # fmt: skip
    assert summary.link_failures(results, rows) == ["broken", "no-speech"]
    line, code = summary.last_line(rows[:4], unlinked=2)  # none failed a stage: the linking fails the run
    assert code == 1 and line.endswith("2 not linked (embed, link or judge failed: results/logs/)")
    assert summary.last_line(rows[:1])[1] == 0


def test_the_judge_jobs_spend_is_summed_beside_the_videos(tmp_path):
    import json

    from claimflow.store import summary as cf_summary

    spent = {
        "v1": {"requests": 2, "cached": 1, "prompt_tokens": 300, "completion_tokens": 40, "cost_usd": 0.001},
        "v2": {"requests": 0, "cached": 2, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
    }
    for vid, usage in spent.items():
        (tmp_path / vid).mkdir()
        (tmp_path / vid / "judged.json").write_text(json.dumps({"vid": vid, "pairs": 3 if vid == "v1" else 2,
                                                                "usage": usage}))  # fmt: skip
    found = cf_summary.judge_usage(tmp_path, ["v1", "v2", "v3"])  # v3: not judged yet
    assert found == {"pairs": 5, "negations": 0, "requests": 2, "cached": 3, "prompt_tokens": 300,
                     "completion_tokens": 40,
                     "cost_usd": 0.001}  # fmt: skip


@pytest.mark.integration  # the job's process
def test_a_video_whose_summary_failed_is_counted_from_its_jobs_log_and_fails_the_run(tmp_path):
    import subprocess
    import sys

    results = tmp_path / "results"
    for vid in ("done", "broken", "waiting"):
        (results / vid).mkdir(parents=True)
    (results / "done/summarized.json").write_text("{}")
    log = results / "logs/summarize/broken.log"
    log.parent.mkdir(parents=True)
    # The summarize job's own way to fail, in a process of its own: its log says so last.
    script = ("from claimflow.core import logs; from claimflow.knowledge import summarize; "
              f"logs.setup({str(log)!r}); raise summarize.NotSummarized('broken: no answer')")  # fmt: skip
    failed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert failed.returncode == 1 and "NotSummarized" in log.read_text()
    rows = [{"vid": vid, "status": "ok"} for vid in ("done", "broken", "waiting")]
    assert summary.summary_failures(results, rows) == ["broken"]
    line, code = summary.last_line(rows, unsummarized=1)
    assert code == 1 and line.endswith("1 not summarized (summarize failed: results/logs/summarize/)")

"""The batch planner's model: the problem statement's own case, a download-bound batch, the
buffer rules, and the command's plan from measured benchmark files."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from claimflow.commands import plan
from claimflow.core import config as cf_config
from claimflow.core.settings import Buffer

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")
BUFFER = Buffer(min=20, target=50, max=100, fast=0.5, slow=1.5, poll=30, max_wait=3600)


def statement_case(accounts: int = 3) -> plan.Batch:
    """The problem statement's figures: 7,000 videos, 3-5 min gaps, 20 min of transcription per
    video on 8 workers, 3.5 min mining, 45 s evaluation."""
    stages = {"transcribe": plan.Stage(1200, 8), "mine": plan.Stage(210, 8), "evaluate": plan.Stage(45, 8),
              "store": plan.Stage(2, 1)}  # fmt: skip
    return plan.Batch(7000, accounts, (180, 300), 150, (60, 120), 30, BUFFER, 45, stages)


@pytest.mark.parametrize("accounts", [3, 5])
def test_the_statements_batch_is_bound_by_transcription_not_downloads(accounts: int):
    batch = statement_case(accounts)
    assert plan.bound(batch) == ("transcribe", 24.0)
    assert batch.download_per_hour() == 15.0 * accounts  # 45/h with three accounts
    outcome = plan.simulate(batch)
    assert outcome.makespan / 86400 == pytest.approx(7000 / 24 / 24, rel=0.02)  # about 12 days, not 7
    # the buffer rules hold processing fed without running away: never far above max
    assert outcome.max_buffer <= BUFFER.max + accounts


def test_a_download_bound_batch_runs_at_the_fast_gap_while_processing_keeps_up():
    fast = {"transcribe": plan.Stage(60, 8), "mine": plan.Stage(30, 8), "evaluate": plan.Stage(10, 8),
            "store": plan.Stage(1, 1)}  # fmt: skip
    batch = plan.Batch(600, 1, (180, 300), 0, (60, 120), 30, BUFFER, 30, fast)
    stage, rate = plan.bound(batch)
    assert stage == "download" and rate == 30.0  # 240 s x 0.5: the buffer never reaches min
    assert plan.simulate(batch).makespan == pytest.approx(600 / 30 * 3600, rel=0.01)


def test_more_accounts_move_a_download_bound_batch_and_more_workers_a_processing_bound_one():
    one = statement_case(accounts=1)
    slow_downloads = replace(one, gap=(600, 600), stages=dict(one.stages, transcribe=plan.Stage(120, 8)))
    labels = {label: plan.simulate(variant).makespan for label, variant, _ in plan.variants(slow_downloads)}
    base = plan.simulate(slow_downloads).makespan
    assert labels["one more account"] < 0.6 * base
    text = plan.render(statement_case())
    assert "bound by transcribe: 24.0 videos/h" in text and "12.2 days" in text
    assert "one more account: 291.8 h = 12.2 days (no change)" in text
    assert "7 more transcribe workers (15)" in text


@pytest.mark.integration
def test_the_command_plans_from_measured_benchmark_files(tmp_path: Path):
    results = tmp_path / "results"
    for stage, seconds in (("transcribe", 600), ("mine", 120), ("evaluate", 30), ("store", 1)):
        folder = results / "benchmarks" / stage
        folder.mkdir(parents=True)
        for n, extra in enumerate((-60, 60)):
            (folder / f"v{n}.tsv").write_text(f"s\th:m:s\n{seconds + extra}\t0:00:00\n")
    (tmp_path / "videos.txt").write_text("".join(f"https://example.com/v{n}.ogg\n" for n in range(40)))
    config = {"sources": str(tmp_path / "videos.txt"), "results": str(results), "accounts": [{"name": "a"}]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([CLAIMFLOW, "plan", "--measured", "--configfile", str(tmp_path / "config.yaml"), "--workers",
                          "transcribe=4"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "claimflow plan: 40 videos, 1 accounts" in run.stdout
    assert "transcribe time: measured (2 videos in" in run.stdout and "download time: typical" in run.stdout
    assert "10.0 min" in run.stdout  # transcription: the mean of 540 and 660 s
    bad = subprocess.run([CLAIMFLOW, "plan", "--configfile", str(tmp_path / "config.yaml"), "--minutes", "whisper=3"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "STAGE=VALUE" in bad.stderr and "Traceback" not in bad.stderr


def test_each_account_downloads_at_its_own_pace():
    accounts = [{"name": "batch"}, {"name": "slower", "delay": [600, 900]}, {"name": "floored", "floor": 1000}]
    pacing = {"delay": [100, 200], "floor": 30, "warmup": {"videos": 0},
              "buffer": {"min": 0, "target": 1000, "max": 1000}}  # fmt: skip
    config = {"sources": ["https://example.com/a.mp3"], "pacing": pacing, "accounts": accounts}
    batch, _ = plan.from_config(cf_config.load(overrides=config), videos=600, minutes={"download": 0.5}, workers={})
    # The mean of each account's range, never below its floor: 150 s, 750 s, 1000 s a download.
    rates = [batch.account_per_hour(n) for n in range(3)]
    assert rates == pytest.approx([3600 / 150, 3600 / 750, 3600 / 1000])
    assert batch.download_per_hour() == pytest.approx(sum(rates))
    # The simulated batch: each account's downloads (every third video) are as far apart as its
    # own pace says.
    done = plan.simulate(batch).downloaded
    for account, gap in enumerate((150, 750, 1000)):
        mine = done[account::3]
        assert [b - a for a, b in zip(mine, mine[1:], strict=False)] == pytest.approx([gap] * (len(mine) - 1))


def test_two_roads_the_statements_batch_at_80_percent_captioned_takes_days_not_weeks():
    batch = replace(statement_case(), captions_seconds=5.5)
    rows = {share: (span, stage, work) for share, span, stage, work in plan.by_share(batch)}
    # 0%: every video on the audio road, as before: 7,000 x 20 min / 8 = 291.7 h, 12.2 days.
    assert rows[0.0][1] == "transcribe" and rows[0.0][2] / 3600 == pytest.approx(7000 * 20 / 60 / 8, rel=1e-6)
    # 80%: 1,400 x 20 min / 8 = 58.3 h (2.4 days), and the simulated batch within 10% of it: the
    # captioned 5,600 neither wait for an account nor fill the buffer the accounts pace by.
    span, stage, work = rows[0.8]
    assert stage == "transcribe" and work / 3600 == pytest.approx(1400 * 20 / 60 / 8, rel=1e-6)
    assert work <= span <= 1.10 * work
    # 95%: transcription is off the critical path; mining all 7,000 (3.5 min on 8 workers, 51 h) bounds it.
    assert rows[0.95][1] == "mine" and rows[0.95][2] / 3600 == pytest.approx(7000 * 3.5 / 60 / 8, rel=1e-6)
    assert rows[0.95][0] <= 1.10 * rows[0.95][2]
    # The captions pass itself (7,000 x 5.5 s = 10.7 h) bounds nothing here, and each account
    # starts a video only after its pass: the audio road never runs ahead of what was asked.
    assert plan.two_road_bound(replace(batch, captioned=1.0))[0] == "mine"
    assert sum(not batch.is_captioned(v) for v in range(7000)) == 7000
    assert replace(batch, captioned=0.8).audio_videos == 1400


def test_the_plan_prints_both_roads_and_each_share():
    text = plan.render(replace(statement_case(), captioned=0.8, captions_seconds=5.5))
    assert "two roads: 80% captioned (no account's turn, no Whisper), 1400 videos on the audio road" in text
    assert "bound by transcribe, 58.3 h = 2.4 days of work" in text
    for share in ("0%", "50%", "80%", "95%"):
        assert any(line.split()[:1] == [share] for line in text.splitlines()), share


def test_transcription_is_measured_per_road_and_captioned_transcripts_take_the_slots(tmp_path: Path):
    import json

    results = tmp_path / "results"
    (results / "benchmarks/transcribe").mkdir(parents=True)
    for n, (road, seconds) in enumerate((("audio", 20.0), ("audio", 22.0), ("captions", 1.5), ("captions", 2.5))):
        (results / f"v{n}").mkdir()
        (results / f"v{n}/download.json").write_text(json.dumps({"vid": f"v{n}", "road": road}))
        (results / f"benchmarks/transcribe/v{n}.tsv").write_text(f"s\th:m:s\n{seconds}\t0:00:00\n")
    (results / "v9").mkdir()  # downloaded before the roads: no `road`, Whisper's
    (results / "v9/download.json").write_text(json.dumps({"vid": "v9"}))
    (results / "benchmarks/transcribe/v9.tsv").write_text("s\th:m:s\n24.0\t0:00:00\n")
    measured = plan.measured_seconds(str(results))
    assert measured["transcribe"] == pytest.approx((22.0, 3)) and measured["transcribe_captions"] == (2.0, 2)
    # 100 videos, 80 captioned, 2 transcription slots: 20 x 22 s / 2 = 220 s of work (a transcript
    # from captions holds no slot: its job asks for no GPU).
    quick = {stage: plan.Stage(0.1, 8) for stage in plan.PROCESSING} | {"transcribe": plan.Stage(22.0, 2)}
    batch = replace(statement_case(), videos=100, captioned=0.8, captioned_transcribe_seconds=2.0, stages=quick,
                    gap=(0.1, 0.1), floor=0.1, download_seconds=0.1, warmup_videos=0)  # fmt: skip
    assert plan.two_road_bound(batch) == ("transcribe", pytest.approx(220.0))
    assert plan.simulate(batch).makespan == pytest.approx(220.0, rel=0.05)
    # A captioned transcript is never in the buffer.
    outcome = plan.simulate(replace(batch, accounts=1, buffer=replace(batch.buffer, max=1, min=0, target=1)))
    assert outcome.max_buffer == 1 and len(outcome.finished) == 100

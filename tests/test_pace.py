import json
import multiprocessing
import random
import time
from pathlib import Path

import pytest

from claimflow.core.settings import Warmup
from claimflow.download import pace


class FakeClock:
    """Virtual time: sleeping advances the clock, so the wait is measured, not suffered."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_first_download_does_not_wait_and_records_its_start(tmp_path: Path):
    clock = FakeClock()
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep) as turn:
        assert turn.waited == 0
    state = json.loads((tmp_path / "a.json").read_text())
    assert state["last_start"] == 1000.0
    assert state["downloads_started"] == 1


def test_second_download_waits_for_the_gap_drawn_once(tmp_path: Path):
    clock = FakeClock()
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep):
        clock.now += 20  # the download itself took 20 s
    with pace.wait_turn(
        "a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep, rng=random.Random(1)
    ) as turn:
        expected_gap = random.Random(1).uniform(180, 300)
        assert turn.gap == expected_gap
        assert len(clock.sleeps) == 1  # one sleep for the whole gap: never redrawn while waiting
        assert abs(turn.started - (1000.0 + expected_gap)) < 1e-9


def test_warmup_range_applies_to_the_first_videos_only(tmp_path: Path):
    clock = FakeClock()
    warmup = Warmup(videos=2, delay=(1, 2))
    gaps = []
    for _ in range(4):
        with pace.wait_turn("a", tmp_path, pace.Plan((100, 200), warmup), clock=clock, sleep=clock.sleep) as turn:
            gaps.append(turn.gap)
    assert all(1 <= g <= 2 for g in gaps[:2])
    assert all(100 <= g <= 200 for g in gaps[2:])


def test_accounts_do_not_wait_for_each_other(tmp_path: Path):
    clock = FakeClock()
    with pace.wait_turn("a", tmp_path, pace.Plan((100, 200)), clock=clock, sleep=clock.sleep):
        pass
    with pace.wait_turn("b", tmp_path, pace.Plan((100, 200)), clock=clock, sleep=clock.sleep) as turn:
        assert turn.waited == 0


def _download_with_turn(args: tuple[str, float, float]) -> tuple[float, float]:
    state_dir, low, high = args
    with pace.wait_turn("shared", state_dir, pace.Plan((low, high))) as turn:
        time.sleep(0.02)  # the download: the lock is held meanwhile
        return turn.started, time.time()


@pytest.mark.integration  # processes
def test_eight_processes_never_start_closer_than_the_floor(tmp_path: Path):
    low, high = 0.15, 0.25
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        spans = pool.map(_download_with_turn, [(str(tmp_path), low, high)] * 8)
    spans.sort()
    starts = [s for s, _ in spans]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 8
    assert min(gaps) >= low - 0.005, gaps
    # The lock is held through each download: no two downloads of one account overlap.
    assert all(end <= nxt for (_, end), nxt in zip(spans, starts[1:], strict=False))
    assert json.loads((tmp_path / "shared.json").read_text())["downloads_started"] == 8


def test_adaptive_multiplier_and_buffer_factor_scale_the_drawn_gap_but_never_below_the_floor(tmp_path: Path):
    clock = FakeClock()
    (tmp_path / "a.json").write_text(json.dumps({"name": "a", "last_start": 1000.0, "multiplier": 2.0}))
    plan = pace.Plan((10, 10), buffer_factor=lambda: 0.5)
    with pace.wait_turn("a", tmp_path, plan, clock=clock, sleep=clock.sleep) as turn:
        assert turn.gap == 10.0 and turn.started == 1010.0  # 10 x2 adaptive x0.5 buffer
    plan = pace.Plan((10, 10), floor=25.0, buffer_factor=lambda: 0.5)
    with pace.wait_turn("a", tmp_path, plan, clock=clock, sleep=clock.sleep) as turn:
        assert turn.gap == 25.0 and turn.started == 1035.0


def test_full_buffer_waits_until_it_drains(tmp_path: Path):
    clock = FakeClock()
    answers = iter([None, None, 1.5])
    plan = pace.Plan((1, 1), buffer_factor=lambda: next(answers), buffer_poll=30)
    with pace.wait_turn("a", tmp_path, plan, clock=clock, sleep=clock.sleep) as turn:
        assert clock.sleeps[:2] == [30, 30]
        assert turn.buffer_factor == 1.5


def test_buffer_wait_is_bounded(tmp_path: Path):
    clock = FakeClock()
    plan = pace.Plan((1, 1), buffer_factor=lambda: None, buffer_poll=30, buffer_max_wait=100)
    with pace.wait_turn("a", tmp_path, plan, clock=clock, sleep=clock.sleep) as turn:
        assert turn.waited >= 100


def test_retry_after_and_pauses_delay_the_start(tmp_path: Path):
    clock = FakeClock()
    (tmp_path / "a.json").write_text(json.dumps({"name": "a", "last_start": 990.0, "not_before": 1100.0}))
    with pace.wait_turn("a", tmp_path, pace.Plan((1, 1)), clock=clock, sleep=clock.sleep) as turn:
        assert turn.started == 1100.0


def test_disabled_and_paused_accounts_refuse_the_turn(tmp_path: Path):
    clock = FakeClock()
    (tmp_path / "d.json").write_text(json.dumps({"name": "d", "status": "disabled", "disabled_reason": "HTTP 401"}))
    (tmp_path / "p.json").write_text(json.dumps({"name": "p", "paused_until": 5000.0}))
    plan = pace.Plan((1, 1))
    with pytest.raises(pace.AccountUnusable, match="disabled: HTTP 401"), pace.wait_turn("d", tmp_path, plan):
        pass
    with (
        pytest.raises(pace.AccountUnusable, match="paused") as paused,
        pace.wait_turn("p", tmp_path, plan, clock=clock),
    ):
        pass
    assert paused.value.until == 5000.0
    with pace.wait_turn("p", tmp_path, pace.Plan((1, 1)), allow_paused=True, clock=clock, sleep=clock.sleep) as turn:
        assert turn.started == 5000.0


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00garbage\x9c", b"{not json", b"[1, 2]", b'{"last_start": "yesterday"}']
)
def test_a_corrupt_state_file_is_named_kept_aside_and_the_account_waits_a_full_gap(tmp_path, caplog, content):
    (tmp_path / "a.json").write_bytes(content)
    clock = FakeClock()
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep,
                        rng=random.Random(1)) as turn:  # fmt: skip
        pass
    assert 180 <= turn.waited <= 300  # conservative: as if it had just downloaded
    kept = list(tmp_path.glob("a.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content  # nothing thrown away
    assert f"state file {tmp_path / 'a.json'} is corrupt" in caplog.text
    assert json.loads((tmp_path / "a.json").read_text())["downloads_started"] == 1


def test_a_start_time_in_the_future_waits_at_most_one_gap(tmp_path, caplog):
    clock = FakeClock()
    (tmp_path / "a.json").write_text(json.dumps({"name": "a", "last_start": clock.now + 5 * 3600}))  # 5 h ahead
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep) as turn:
        pass
    assert turn.waited <= 300  # not five hours holding the account
    assert "in the future (clock skew?)" in caplog.text


def test_a_long_wait_is_announced_on_the_console_not_only_in_the_log(tmp_path, capsys):
    clock = FakeClock()
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep):
        pass
    with pace.wait_turn("a", tmp_path, pace.Plan((180, 300)), clock=clock, sleep=clock.sleep) as turn:
        pass
    assert f"claimflow: a waits {turn.waited:.0f}s before its next download" in capsys.readouterr().err

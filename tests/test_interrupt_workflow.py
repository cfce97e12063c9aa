"""Stopping a batch, as users and supervisors do, through the real workflow in benchmark mode
(stage work replaced by sleeps; the scheduler, pacing, logs, summary and status are real):

- Ctrl-C (SIGINT to the whole process group, as a terminal sends it): the interrupted video is
  `interrupted`, never `failed`; no traceback on the console; claimflow's counted line is the
  last line; exit status 130; the same command finishes the batch;
- SIGTERM to the main process alone (`kill PID`, a supervisor), while a download waits out its
  pacing gap: it stops within seconds, its jobs with it, and the same command resumes;
- `claimflow status` with an absolute `results:` path: running jobs while the run is alive,
  interrupted ones after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from claimflow.commands.runlock import descendants
from tests.conftest import CLAIMFLOW, bench_batch, run_workflow, workflow_command

pytestmark = pytest.mark.slow


def _start(root: Path, batch: dict, out: Path) -> subprocess.Popen:
    """`claimflow run` of the batch in a session of its own, with SIGINT's default action restored
    (a shell starts background jobs with SIGINT ignored; a terminal's foreground job has it)."""
    command = workflow_command(root, runner="run", **batch)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out.open("w"),
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def _wait_for(condition, what: str, seconds: float = 240) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_ctrl_c_is_interrupted_never_failed_and_claimflows_line_is_the_last(tmp_path: Path):
    root = tmp_path / "batch"
    batch = bench_batch(root, 2, {"download": 0.1, "transcribe": 0.1, "mine": 60, "evaluate": 0.1}, jobs=4)
    stderr = tmp_path / "stderr.txt"
    proc = _start(root, batch, stderr)
    mine_logs = root / "results/logs/mine"
    _wait_for(lambda: mine_logs.is_dir() and any(mine_logs.iterdir()), "a mining job")
    time.sleep(2.0)  # the job is in its stage's work
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=120) == 130
    console = stderr.read_text()
    assert "Traceback" not in console and "KeyboardInterrupt" not in console, console[-3000:]
    last = console.rstrip().splitlines()[-1]
    assert last.startswith("claimflow: 2 videos: 0 ok, 0 partial, 0 failed, ") and "interrupted (at mine: 1)" in last
    rows = [line.split("\t") for line in (root / "results/summary.tsv").read_text().splitlines()]
    statuses = {row[0]: (row[1], row[2]) for row in rows[1:]}
    assert ("interrupted:mine", "stopped by SIGINT; the same command again redoes it") in statuses.values()
    assert not any(status.startswith("failed") for status, _ in statuses.values())
    status = subprocess.run([*CLAIMFLOW, "status", "--json", "--configfile", str(root / "bench.yaml")], cwd=root,
                            capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    state = json.loads(status.stdout)
    assert state["stages"]["mine"]["interrupted"] == 1 and state["stages"]["mine"]["failed"] == 0
    assert state["eta_seconds"] is None and state["last_run"]["ended"] >= state["last_run"]["started"]
    # The same command finishes the batch (with mining's stand-in quicker: a runtime setting).
    (root / "quick.yaml").write_text("benchmark: {sleep: {mine: 0.1}}\n")
    again = run_workflow(root, runner="run", jobs=4, configs=(*batch["configs"], root / "quick.yaml"))
    assert again.stderr.rstrip().splitlines()[-1].startswith("claimflow: 2 videos: 2 ok")


def test_sigterm_to_the_main_process_alone_stops_its_jobs_within_seconds(tmp_path: Path):
    root = tmp_path / "batch"
    pacing = {
        "delay": [30, 30],
        "floor": 0.2,
        "warmup": {"videos": 0},
        "buffer": {"min": 0, "target": 1000, "max": 1000},
    }
    batch = bench_batch(root, 2, {"download": 0.1, "transcribe": 0.1, "mine": 0.1, "evaluate": 0.1}, jobs=4,
                       accounts=[{"name": "a1"}], pacing=pacing)  # fmt: skip
    stderr = tmp_path / "stderr.txt"
    proc = _start(root, batch, stderr)
    # The first video through to its rows (a fixed sleep raced a loaded CI machine: its store job
    # had not ended), while the second download waits out its 30 s gap.
    _wait_for(lambda: len(list(root.glob("results/*/stored.json"))) == 1, "the first video stored")
    assert len(list(root.glob("results/*/download.json"))) == 1, "the second download did not wait its gap"
    jobs = descendants(proc.pid)
    assert jobs, "no job process is running"
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)  # the main process alone, as `kill PID` or a supervisor does
    assert proc.wait(timeout=60) == 130
    assert time.monotonic() - sent < 15
    assert not [pid for pid in jobs if Path(f"/proc/{pid}").exists()]  # its jobs went with it
    last = stderr.read_text().rstrip().splitlines()[-1]
    assert last.startswith("claimflow: 2 videos: 1 ok") and "interrupted (at download: 1)" in last
    run_workflow(root, runner="run", **batch)
    starts = sorted(json.loads(p.read_text())["timings"]["started"] for p in root.glob("results/*/download.json"))
    assert starts[1] - starts[0] >= 30 - 0.05  # the account's gap held across the stop and the rerun


def test_status_with_an_absolute_results_path_sees_running_jobs_and_after_kill_9_interrupted_ones(tmp_path: Path):
    root = tmp_path / "batch"
    results = tmp_path / "elsewhere" / "results"  # absolute, outside the batch folder
    batch = bench_batch(root, 2, {"download": 0.1, "transcribe": 60, "mine": 0.1, "evaluate": 0.1}, jobs=4,
                       results=str(results))  # fmt: skip

    def stage() -> dict:
        run = subprocess.run([*CLAIMFLOW, "status", "--json", "--configfile", str(root / "bench.yaml")], cwd=root,
                             capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
        return json.loads(run.stdout)["stages"]["transcribe"]

    proc = _start(root, batch, tmp_path / "stderr.txt")
    try:
        _wait_for(lambda: len(list(results.glob("*/download.json"))) == 2, "both downloads")
        _wait_for(lambda: stage()["running"] == 2, "two running transcriptions in status", 60)
        running = stage()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the whole run
        proc.wait(timeout=60)
    assert (running["running"], running["waiting"]) == (2, 0)
    stopped = stage()
    assert (stopped["interrupted"], stopped["running"], stopped["waiting"]) == (2, 0, 0)

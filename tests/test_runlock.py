"""`claimflow run`: one live run per folder, and the same command works again after a kill -9.

Real Snakemake runs: benchmark mode (sleeps for the stages; scheduler, slots, pacing, store
real) for the crash, real yt-dlp downloads against the loopback server for the pacing of two
runs that share a folder on purpose (`--nolock`), checked from the server's request log.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from claimflow.commands import runlock
from tests.conftest import bench_batch, run_workflow, workflow_command
from tests.test_download_workflow import assert_paced, downloads_by_account, make_batch, manifests


def test_which_arguments_need_the_folder_to_themselves():
    assert runlock.needs_exclusive(["--profile", "profiles/local", "-j", "16", "downloads"])
    assert runlock.needs_exclusive(["--touch"])
    for shared in (["-n"], ["-np"], ["--dry-run"], ["--nolock", "-j", "4"], ["--unlock"], ["--lint"]):
        assert not runlock.needs_exclusive(shared), shared
    assert runlock.workdir_of(["-j", "2", "--directory", "/x/y"]) == Path("/x/y")
    assert runlock.workdir_of(["--directory=/x/z"]) == Path("/x/z")
    assert runlock.workdir_of(["-d", "w"]) == Path("w") and runlock.workdir_of([]) == Path(".")


def _hold(folder: str, ready, release) -> None:  # noqa: ANN001
    runlock.hold_shared(folder)  # what the workflow's main process does at parse time
    ready.set()
    release.wait(30)


@pytest.mark.integration  # processes
def test_a_live_holder_refuses_the_launcher_and_a_dead_one_does_not(tmp_path: Path, capsys):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path / ".snakemake"), ready, release))
    holder.start()
    assert ready.wait(10)
    try:
        code = runlock.launch(["--directory", str(tmp_path), "-j", "1"], python="/nonexistent/python")
        assert code == runlock.EXIT_REFUSED
        assert "another Snakemake run is alive" in capsys.readouterr().err
    finally:
        release.set()
        holder.join(10)
    # The holder is gone (as after kill -9: the kernel dropped its lock): a shared lock is free again.
    fd = runlock.hold_shared(tmp_path / ".snakemake")
    assert fd is not None
    os.close(fd)


def _wait_for(predicate, timeout: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_after_kill_9_the_same_command_completes_and_a_second_live_run_is_refused(tmp_path: Path):
    root = tmp_path / "batch"
    batch = bench_batch(root, 6, {"download": 1.0, "transcribe": 1.5, "mine": 0.5, "evaluate": 0.2})
    command = workflow_command(root, runner="run", **batch)
    results = root / "results"
    with (tmp_path / "first.log").open("w") as log:  # a file, not a pipe nobody reads: it would fill up
        first = subprocess.Popen(command, start_new_session=True, stdout=log, stderr=log)
    try:
        _wait_for(lambda: len(list(results.glob("*/download.json"))) >= 2)
        # Alive: a second `claimflow run` is refused with the first one's pid; nothing started.
        second = run_workflow(root, check=False, timeout=60, runner="run", **batch)
        assert second.returncode == runlock.EXIT_REFUSED, second.stderr
        assert "another Snakemake run is alive" in second.stderr and f"{first.pid}: " in second.stderr
        os.killpg(first.pid, signal.SIGKILL)  # the whole process group, mid-batch
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert runlock.stale_snakemake_lock(root), "Snakemake's lock is left behind"
    assert len(list(results.glob("*/stored.json"))) < 6
    # Plain Snakemake still refuses (its lock cannot know its owner is dead) ...
    plain = run_workflow(root, check=False, timeout=120, **batch)
    assert plain.returncode != 0 and "Directory cannot be locked" in plain.stdout + plain.stderr
    # ... the documented command does not need --unlock first.
    again = run_workflow(root, runner="run", **batch)
    assert "removed the lock a stopped run left behind" in again.stderr
    assert len(list(results.glob("*/stored.json"))) == 6
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT vid) FROM videos").fetchone() == (6, 6)
    assert not runlock.stale_snakemake_lock(root)


@pytest.mark.slow
def test_a_nolock_run_beside_a_live_one_keeps_every_accounts_gap_at_the_server(tmp_path: Path):
    workdir, server = make_batch(tmp_path, 12, ["acct1", "acct2"], delay=[1.5, 1.7], floor=1.0)
    batch = {"targets": ("downloads",), "configs": (workdir / "config.yaml",), "env": dict(os.environ)}
    with server:
        with (tmp_path / "first.log").open("w") as log:
            first = subprocess.Popen(
                workflow_command(workdir, runner="run", targets=("downloads",), configs=batch["configs"]),
                stdout=log,
                stderr=log,
            )
        _wait_for(lambda: len(server.requests) >= 2, timeout=60)
        refused = run_workflow(workdir, check=False, timeout=60, runner="run", **batch)
        assert refused.returncode == runlock.EXIT_REFUSED and "--nolock" in refused.stderr
        run_workflow(workdir, "--nolock", runner="run", **batch)
        assert first.wait(600) == 0, (tmp_path / "first.log").read_text()[-3000:]
    per = downloads_by_account(server)
    assert set(per) == {"acct1", "acct2"}
    # Both runs downloaded (more downloads than videos), through the same accounts: on the
    # wire, every gap held (floor 1.0 s).
    assert sum(len(d) for d in per.values()) > 12
    assert_paced(per, floor=1.0)
    assert sorted(d["status"] for d in manifests(workdir)) == ["ok"] * 12

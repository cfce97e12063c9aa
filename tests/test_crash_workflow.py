"""Killed at random moments, resumed by the documented command: the same database as an
uninterrupted run, no partial file read, and the pacing held on the wire across restarts.

The whole pipeline, real: yt-dlp against the loopback media server (its request log is the
evidence for pacing), faster-whisper, the bundled LLM, SQLite. The batch is killed with
SIGKILL to its whole process group three times, at three moments (mid-transfer of a slow
download, while transcription and mining run, while videos are being stored), each restart
being `claimflow run` with the same arguments and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.conftest import DEMO_CLIPS, RUN_TIMEOUT, workflow_command
from tests.harness.faultserver import Fault, FaultServer
from tests.test_download_workflow import assert_paced, downloads_by_account

pytestmark = pytest.mark.slow
FLOOR = 1.5


def _batch(workdir: Path, server: FaultServer) -> list[str]:
    workdir.mkdir()
    (workdir / "videos.txt").write_text("".join(server.url(clip.name) + "\n" for clip in DEMO_CLIPS))
    accounts = []
    for name in ("acct1", "acct2"):
        jar = workdir / f"{name}.cookies"
        jar.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tacct\t{name}-token\n")
        os.chmod(jar, 0o600)
        accounts.append({"name": name, "cookies": str(jar)})
    config = {
        "sources": str(workdir / "videos.txt"), "results": "results", "state": "state", "accounts": accounts,
        "pacing": {"delay": [2.0, 2.5], "floor": FLOOR, "warmup": {"videos": 0},
                   "buffer": {"min": 0, "target": 1000, "max": 1000}, "socket_timeout": 20},
    }  # fmt: skip
    (workdir / "test.yaml").write_text(yaml.safe_dump(config))
    return workflow_command(workdir, runner="run", jobs=4)


def _count(results: Path, name: str) -> int:
    return len(list(results.glob(f"*/{name}")))


def _run_until(command: list[str], moment, log: Path, timeout: float = 600) -> str:  # noqa: ANN001
    """Start the documented command in its own process group; SIGKILL the group when `moment()`
    holds. Returns what it said (its stderr, into a file: a pipe nobody reads would fill up)."""
    with log.open("w") as err:
        process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + timeout
    try:
        while not moment():
            assert process.poll() is None, f"the run ended before the moment:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the moment never came:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    return log.read_text()


def _rows(results: Path) -> dict[str, list]:
    conn = sqlite3.connect(results / "claimflow.sqlite")
    found = {
        "videos": conn.execute("SELECT vid, status, duration FROM videos ORDER BY vid").fetchall(),
        "segments": conn.execute("SELECT vid, COUNT(*) FROM segments GROUP BY vid ORDER BY vid").fetchall(),
        "claims": conn.execute("SELECT vid, claim_id, claim_text FROM claims ORDER BY vid, claim_id").fetchall(),
        "evaluations": conn.execute("SELECT vid, claim_id, decision, tier FROM evaluations ORDER BY 1, 2").fetchall(),
    }
    conn.close()
    return found


def test_three_kill_9s_then_the_same_command_give_the_uninterrupted_database(tmp_path: Path):
    www = tmp_path / "www"
    www.mkdir()
    for clip in DEMO_CLIPS:
        (www / clip.name).write_bytes(clip.read_bytes())
    slow = f"/{DEMO_CLIPS[1].name}"
    with FaultServer(www) as server:
        server.add(Fault("slow", path=slow, times=2, delay=0.6))  # a transfer of ~7 s to be killed in
        crashed = _batch(tmp_path / "crashed", server)
        results = tmp_path / "crashed/results"
        said = []

        def mid_transfer() -> bool:
            started = [r.t for r in server.requests if r.path == slow]
            return bool(started) and time.time() - started[0] > 1.5

        # 1: in the middle of a slow transfer (the file being written is a temporary).
        said.append(_run_until(crashed, mid_transfer, tmp_path / "run1.log"))
        # 2: while transcription and mining run (some transcripts written, not all mined).
        said.append(_run_until(crashed, lambda: _count(results, "transcript.json") >= 1, tmp_path / "run2.log"))
        # 3: while videos are being stored.
        said.append(_run_until(crashed, lambda: _count(results, "stored.json") >= 1, tmp_path / "run3.log"))
        assert _count(results, "stored.json") < 3, "the last kill came too late to test anything"
        final = subprocess.run(crashed, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert final.returncode == 0, final.stderr[-4000:]
        crash_requests = list(server.requests)
        reference = _batch(tmp_path / "reference", server)
        # The uninterrupted run downloads, transcribes and stores anew, and reads the LLM's answers
        # from the crashed batch's cache: the bundled model at temperature 0 answers the same
        # windows the same, and what is under test is what the kills did to files and rows (the
        # mining it saves is a third of the test's time).
        shutil.copytree(tmp_path / "crashed/state/llm-cache", tmp_path / "reference/state/llm-cache")
        whole = subprocess.run(reference, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert whole.returncode == 0, whole.stderr[-4000:]
    # Every restart found the dead run's lock and needed no --unlock.
    for text in [*said[1:], final.stderr]:
        assert "removed the lock a stopped run left behind" in text
    # The same rows as the uninterrupted run, none twice.
    assert _rows(results) == _rows(tmp_path / "reference/results")
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) = COUNT(DISTINCT vid || '/' || claim_id) FROM claims").fetchone() == (1,)
    # No stage read a partial file: every audio is the whole served file, every JSON whole.
    for clip in DEMO_CLIPS:
        (audio,) = [p for p in results.glob("*/audio") if clip.stem in p.parent.name]
        assert audio.read_bytes() == clip.read_bytes()
    for path in results.glob("*/*.json"):
        json.loads(path.read_text())
    # On the wire, across the four runs of the crashed batch: each account's starts >= the floor apart.
    assert_paced(downloads_by_account(SimpleNamespace(requests=crash_requests)), floor=FLOOR)

"""Bad input and hostile surroundings, through real runs: each fault gets a message that names
the problem and the fix, the rest of the batch does all it can, and the same command afterwards
finishes exactly what the fault held back. Benchmark mode (sleeps for the stages; scheduler,
slots, pacing and store real) where the stages' own work is not the point."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from claimflow.store import database as store
from tests.conftest import REPO, bench_batch, run_workflow
from tests.harness.faultserver import FaultServer

pytestmark = pytest.mark.slow


def test_a_database_locked_by_another_program_names_the_lock_and_the_same_command_stores_later(tmp_path):
    root = tmp_path / "batch"
    sleep = {"download": 0.2, "transcribe": 0.2, "mine": 0.1, "evaluate": 0.1}
    pacing = {
        "delay": [0.3, 0.3],
        "floor": 0.1,
        "warmup": {"videos": 0},
        "buffer": {"min": 0, "target": 1000, "max": 1000},
    }
    batch = bench_batch(root, 4, sleep, jobs=4, pacing=pacing, store={"busy_timeout": 2})
    database = root / "results/claimflow.sqlite"
    store.ensure(database)
    # Another program holds the write lock for the whole run (a shell left inside BEGIN EXCLUSIVE).
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
                               "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        blocked = run_workflow(root, check=False, runner="run", **batch)
        assert time.monotonic() - began < 300  # it waited the configured 2 s per try, not forever
    finally:
        holder.kill()
        holder.wait(10)
    assert blocked.returncode != 0
    logs = "".join(p.read_text() for p in (root / "results/logs/store").glob("*.log"))
    assert "stayed locked by another program for 2 s" in logs and "run the same command again" in logs
    assert "stayed locked by another program" in blocked.stdout + blocked.stderr
    # Everything before the store was done for every video; nothing was stored.
    assert len(list((root / "results").glob("*/evaluation.json"))) == 4
    assert not list((root / "results").glob("*/stored.json"))
    run_workflow(root, runner="run", **batch)
    assert len(list((root / "results").glob("*/stored.json"))) == 4
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM videos").fetchone() == (4,)


# Every shell trap in one name (a second video would cost the bundled model minutes, not cover more).
HOSTILE = ["$(touch PWNED) `touch PWNED2`; echo 'q' \"d\" new\nline | rm -rf ~ &.ogg"]


def test_hostile_titles_urls_and_paths_never_reach_a_shell_nor_leave_the_results(tmp_path):
    www, outside, batch = tmp_path / "www", tmp_path / "outside", tmp_path / "batch"
    for folder in (www, outside, batch):
        folder.mkdir()
    clips = sorted((REPO / "demo").glob("*.ogg"))
    for name, clip in zip(HOSTILE, clips, strict=False):
        (www / name).write_bytes(clip.read_bytes())
    (outside / "..;$(id).ogg").write_bytes(clips[-1].read_bytes())
    before = {p for p in tmp_path.rglob("*")}
    with FaultServer(www) as server:
        lines = [server.url(quote(name)) + "?x=$(touch%20PWNED3)&y=`id`" for name in HOSTILE]
        lines.append("../outside/..;$(id).ogg")  # a local path that climbs out of the sources' folder
        (batch / "videos.txt").write_text("\n".join(lines) + "\n")
        overrides = {"sources": "videos.txt", "results": "results", "state": "state"}
        (batch / "test.yaml").write_text(yaml.safe_dump(overrides))
        run_workflow(batch, runner="run", jobs=4, cwd=tmp_path)
    # Nothing ran a shell: no file the strings would have made exists anywhere.
    made = {"PWNED", "PWNED2", "PWNED3"}
    assert not [p for p in tmp_path.rglob("*") if p.name in made]
    for folder in (Path("/"), Path.home(), REPO, Path("/tmp")):
        assert not [p for p in folder.iterdir() if p.name in made], folder
    # Everything written is inside the batch folder's results/, state/ and .snakemake/.
    written = {p for p in tmp_path.rglob("*")} - before
    allowed = [batch / "results", batch / "state", batch / ".snakemake"]
    stray = [p for p in written if p not in (batch / "videos.txt", batch / "test.yaml", *allowed)
             and not any(a in p.parents for a in allowed)]  # fmt: skip
    assert not stray, stray
    # Each video has a folder of safe characters, and its title is stored as it was, verbatim.
    folders = sorted(p.name for p in (batch / "results").iterdir() if (p / "stored.json").exists())
    assert len(folders) == 2 and all(re.fullmatch(r"[A-Za-z0-9_-]+", f) for f in folders)
    with sqlite3.connect(batch / "results/claimflow.sqlite") as conn:
        titles = {row[0] for row in conn.execute("SELECT title FROM videos")}
        statuses = {row[0] for row in conn.execute("SELECT status FROM videos")}
    assert statuses == {"ok"}
    assert any("$(touch PWNED)" in (t or "") and "`touch PWNED2`" in (t or "") for t in titles), titles


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 MB filesystem of its own (tmpfs), so it can be filled without filling the machine's."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64M", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here (needs root, as CI has): {made.stderr.decode()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_named_before_snakemake_starts_and_freed_the_same_command_finishes(small_disk: Path):
    sleep = {"download": 0.1, "transcribe": 0.1, "mine": 0.1, "evaluate": 0.1}
    root = small_disk / "batch"
    batch = bench_batch(root, 2, sleep, jobs=2)
    run_workflow(root, runner="run", **batch)
    filler = small_disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)  # until the disk is full
    (small_disk / "batch/videos.txt").write_text((small_disk / "batch/videos.txt").read_text()
                                                 + "https://example.com/bench/v999.mp3\n")  # fmt: skip
    full = run_workflow(root, check=False, runner="run", **batch)
    assert full.returncode == 2
    assert full.stderr.strip().startswith(f"claimflow: no space left in {small_disk.resolve()}")
    assert "free space on that disk and run the same command again; nothing done is lost" in full.stderr
    assert "Traceback" not in full.stderr and "disk I/O error" not in full.stderr
    filler.unlink()
    again = run_workflow(root, runner="run", **batch)
    assert again.stderr.rstrip().splitlines()[-1].startswith("claimflow: 3 videos: 3 ok")
    assert again.stderr.count("localrule download:") == 1  # only the new video is downloaded

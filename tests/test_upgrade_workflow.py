"""A batch in flight survives the upgrade: batches run by an earlier release (tests/fixtures/
upgrade-*.tar.gz, made by tests/fixtures/make_upgrade_fixture.py with that release's code), then
the current code on the same folders, as a user's `git pull` mid-batch does. A finished batch has
nothing to do; a half-finished one does only what was missing. A change that reruns finished
work on upgrade (a param that serializes differently, a file renamed) fails here."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.conftest import REPO, planned_jobs, run_workflow

pytestmark = pytest.mark.slow

FIXTURES = REPO / "tests/fixtures"
# Each earlier release's batches: d1630c9 from before the captions pass; a945f25 its first step,
# which asked the pass about media addresses too (later releases do not).
MADE_BY = json.loads((FIXTURES / "upgrade-fixtures.json").read_text())["commits"]
# What a rerun may add: the records of what the downloads were made with (claimflow/download/captionspass.py).
RECORDS = ("downloaded-before-captions.txt", "asked-before-captions.txt")


def _unpack(commit: str, kind: str, into: Path) -> dict:
    with tarfile.open(FIXTURES / f"upgrade-{commit[:7]}-{kind}.tar.gz") as archive:
        archive.extractall(into, filter="tar")  # the files' times as they were: Snakemake compares them
    return {"configs": (REPO / "config/config.yaml", into / "upgrade.yaml"), "jobs": 4}


def _times(results: Path) -> dict[Path, int]:
    """Each file's time; the database's WAL and index files are SQLite's own (the preflight
    opens the database), not content."""
    return {
        p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize("commit", MADE_BY, ids=lambda c: c[:7])
def test_a_batch_finished_by_the_earlier_release_has_nothing_to_do(tmp_path: Path, commit: str):
    batch = _unpack(commit, "finished", tmp_path)
    before = _times(tmp_path / "results")
    plan = run_workflow(tmp_path, "-n", **batch)
    assert "Nothing to be done" in plan.stdout + plan.stderr, (plan.stdout + plan.stderr)[-3000:]
    run = run_workflow(tmp_path, runner="run", **batch)
    assert "Nothing to be done" in run.stdout + run.stderr
    after = _times(tmp_path / "results")
    # Not a file rewritten (no token, no request); files added: the records of what the downloads
    # were made with (before the captions pass existed, or with its record as their input).
    records = [tmp_path / "results" / name for name in RECORDS]
    assert {p: t for p, t in after.items() if p not in records} == {p: t for p, t in before.items() if p not in records}
    downloads = sorted(p.parent.name for p in (tmp_path / "results").glob("*/download.json"))
    asked = sorted(p.parent.name for p in (tmp_path / "results").glob("*/captions.json"))
    listed = [[line for line in r.read_text().splitlines() if not line.startswith("#")] for r in records]
    assert len(downloads) == 4 and sorted(listed[0]) == (downloads if not asked else [])
    assert sorted(listed[1]) == asked  # a945f25 asked about all four, the media address too


@pytest.mark.parametrize("commit", MADE_BY, ids=lambda c: c[:7])
def test_a_batch_half_done_by_the_earlier_release_finishes_only_what_was_missing(tmp_path: Path, commit: str):
    batch = _unpack(commit, "half", tmp_path)
    results = tmp_path / "results"
    stored = sorted(p.parent.name for p in results.glob("*/stored.json"))
    (transcribed,) = [p.parent.name for p in results.glob("*/transcript.json") if p.parent.name not in stored]
    assert len(stored) == 2  # what the earlier release left: two stored, one transcribed, one not started
    before = _times(results)
    plan = run_workflow(tmp_path, "-n", **batch)
    planned = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    (fresh,) = {vid for _, vid in planned} - {transcribed}
    assert fresh not in stored
    expected = {(rule, transcribed) for rule in ("mine", "evaluate", "store")}
    # The video not started takes the captions pass first, as any new video does.
    expected |= {(rule, fresh) for rule in ("captions", "download", "transcribe", "mine", "evaluate", "store")}
    assert planned == expected
    run_workflow(tmp_path, runner="run", **batch)
    after = _times(results)
    kept = [p for p in before if p.parent.name in stored or (p.parent.name == transcribed and "transcript" in p.name)]
    assert len(kept) > 10 and all(after[p] == before[p] for p in kept)  # finished work untouched
    assert len(list(results.glob("*/stored.json"))) == 4
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM videos WHERE status = 'ok'").fetchone() == (4,)

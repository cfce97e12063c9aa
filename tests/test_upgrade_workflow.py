"""A batch in flight survives the upgrade: batches run by an earlier release (tests/fixtures/
upgrade-*.tar.gz, made by tests/fixtures/make_upgrade_fixture.py with that release's code), then
the current code on the same folders, as a user's `git pull` mid-batch does. A finished batch has
nothing to do but the stages added since (linking claims across videos); a half-finished one
does only what was missing. A change that reruns finished work on upgrade (a param that
serializes differently, a file renamed) fails here."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from claimflow.knowledge import embed
from claimflow.store import database as store
from claimflow.store import query
from tests.conftest import REPO, planned_jobs, run_workflow

pytestmark = pytest.mark.slow

FIXTURES = REPO / "tests/fixtures"
# Each earlier release's batches: d1630c9 from before the captions pass; a945f25 its first step,
# which asked the pass about media addresses too (later releases do not); d2401ce, the first that
# linked claims (schema 9: its vectors carry no model, migration 10 names it); 5d58f22, the last
# at schema 12 (negation pairs; 13 indexes the pairs' second claim); 417aae3, the last at schema
# 14 (15 rebuilds the per-video tables with foreign keys, attaches the full-text indexes).
MADE_BY = json.loads((FIXTURES / "upgrade-fixtures.json").read_text())["commits"]
LINKED_BY = ("d2401ce", "5d58f22", "417aae3")  # the releases whose batches already ran the link stages
# What a rerun may add: the records of what the downloads were made with (claimflow/download/captionspass.py).
RECORDS = ("downloaded-before-captions.txt", "asked-before-captions.txt")
# Stages later than the releases before LINKED_BY: their jobs run once for each stored video, and
# write their own files and the database's tables of links (rules/link.smk).
ADDED_STAGES = ("embed", "link", "judge")


def added_since(commit: str) -> tuple[str, ...]:
    """The stages a batch finished by `commit` has yet to run for its stored videos."""
    return () if commit[:7] in LINKED_BY else ADDED_STAGES


ADDED_FILES = ("embeddings.json", "linked.json", "judged.json", "claimflow.sqlite")
# The batch's views, which every run that ran a job writes again (the summary, the report).
VIEWS = ("summary.tsv", "usage.json", "report.html", "report.tsv")
STORED_TABLES = ("videos", "claims", "scores", "segments")


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


def _rows(database: Path, columns: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Each stored table's rows, as text, in the columns `columns` names (default: all; a later
    schema adds columns, migrated in place)."""
    with sqlite3.connect(database) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = columns or {
            t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in STORED_TABLES if t in names
        }
        found = {t: sorted(map(repr, conn.execute(f"SELECT {', '.join(cs)} FROM {t}"))) for t, cs in tables.items()}
        return found | {"columns": tables}


@pytest.mark.parametrize("commit", MADE_BY, ids=lambda c: c[:7])
def test_a_batch_finished_by_the_earlier_release_has_nothing_to_do(tmp_path: Path, commit: str):
    batch = _unpack(commit, "finished", tmp_path)
    results = tmp_path / "results"
    before, rows = _times(results), _rows(results / "claimflow.sqlite")
    plan = run_workflow(tmp_path, "-n", **batch)
    vids = sorted(p.parent.name for p in results.glob("*/stored.json"))
    assert len(vids) == 4
    planned = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    added_stages = added_since(commit)
    assert planned == {(rule, vid) for rule in added_stages for vid in vids}, (plan.stdout + plan.stderr)[-3000:]
    run_workflow(tmp_path, runner="run", **batch)
    again = run_workflow(tmp_path, "-n", **batch)
    assert "Nothing to be done" in again.stdout + again.stderr, (again.stdout + again.stderr)[-3000:]
    after = _times(results)
    # Not a file of the earlier release's rewritten (no token, no request), nor a row it stored;
    # files added: the records of what the downloads were made with (before the captions pass
    # existed, or with its record as their input), and the added stages' own.
    records = [results / name for name in RECORDS]

    kept = [p for p in before if p.name not in ADDED_FILES + VIEWS and p.parent.name != "report"]
    assert len(kept) > 40 and all(after[p] == before[p] for p in kept)
    added = set(after) - set(before) - set(records)
    logs = {f"{vid}.{ext}" for vid in vids for ext in ("tsv", "log")} if added_stages else set()
    assert {p.name for p in added} - set(ADDED_FILES) == logs
    assert all(p.parent.name in ADDED_STAGES for p in added if p.suffix in (".tsv", ".log"))
    assert _rows(results / "claimflow.sqlite", rows["columns"]) == rows
    assert all((results / vid / "linked.json").is_file() for vid in vids)
    # The index as the release left it or as the rerun made it, read by this code: each video's
    # vectors under the bundled model's name, and a linked claim found by its own meaning (the
    # releases before d2401ce stored no claim in benchmark mode: nothing to link there).
    conn = store.connect(results / "claimflow.sqlite")
    # Migrated in place to a database people can read: each claim in its attached search index.
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    assert conn.execute("SELECT COUNT(*) FROM claims_fts").fetchone() == conn.execute(
        "SELECT COUNT(*) FROM claims").fetchone()  # fmt: skip
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    models = conn.execute("SELECT DISTINCT model FROM video_vectors").fetchall()
    linked = conn.execute("SELECT c.vid, c.claim_text FROM claims c JOIN claim_clusters k "
                          "ON k.claim_key = c.vid || '/' || c.claim_id ORDER BY c.vid LIMIT 1").fetchone()  # fmt: skip
    conn.close()
    assert models == ([(embed.WORDLLAMA.identity,)] if linked else [])
    assert linked or commit[:7] not in LINKED_BY
    if linked:
        (best, _), *_ = query.meaning(results / "claimflow.sqlite", linked[1], embed.embedder("wordllama"), limit=3)
        assert best.claim_text == linked[1]
    downloads = sorted(p.parent.name for p in (tmp_path / "results").glob("*/download.json"))
    asked = sorted(p.parent.name for p in (tmp_path / "results").glob("*/captions.json"))
    assert len(downloads) == 4
    if all(r in before for r in records):  # the release wrote its records itself: they stand
        assert all(after[r] == before[r] for r in records)
        return
    listed = [[line for line in r.read_text().splitlines() if not line.startswith("#")] for r in records]
    assert sorted(listed[0]) == (downloads if not asked else [])
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
    (fresh,) = {vid for rule, vid in planned if rule not in ADDED_STAGES} - {transcribed}
    assert fresh not in stored
    expected = {(rule, transcribed) for rule in ("mine", "evaluate", "store")}
    # The video not started takes the captions pass first, as any new video does.
    expected |= {(rule, fresh) for rule in ("captions", "download", "transcribe", "mine", "evaluate", "store")}
    # The stored videos: the added stages the release had not run for them (d2401ce's half batch
    # stopped at the store, so its links are missing too).
    outputs = dict(zip(ADDED_STAGES, ADDED_FILES, strict=False))
    expected |= {(rule, vid) for rule in ADDED_STAGES for vid in stored if not (results / vid / outputs[rule]).exists()}
    expected |= {(rule, vid) for rule in ADDED_STAGES for vid in [transcribed, fresh]}
    assert planned == expected
    run_workflow(tmp_path, runner="run", **batch)
    after = _times(results)
    kept = [p for p in before if p.parent.name in stored or (p.parent.name == transcribed and "transcript" in p.name)]
    assert len(kept) > 10 and all(after[p] == before[p] for p in kept)  # finished work untouched
    assert len(list(results.glob("*/stored.json"))) == 4
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM videos WHERE status = 'ok'").fetchone() == (4,)

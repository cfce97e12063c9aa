"""Benchmark mode (`benchmark.sleep`): every stage's work replaced by a sleep, everything around
it real: the scheduler, the account slots, the pacing between one account's downloads, the
store. What the overlap benchmark (benchmarks/overlap.py) relies on."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_workflow

pytestmark = pytest.mark.slow


def test_sleeping_stages_keep_the_real_pacing_and_store(tmp_path: Path):
    overrides = {
        "sources": str(REPO / "demo/sources.txt"), "results": "results", "state": "state",
        "pacing": {"delay": [2, 2], "floor": 0.5, "warmup": {"videos": 0}, "buffer": {"min": 0}},
        "benchmark": {"sleep": {"download": 0.3, "transcribe": 0.5, "mine": 0.4, "evaluate": 0.1}},
    }  # fmt: skip
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(overrides))
    run_workflow(tmp_path)
    results = tmp_path / "results"
    manifests = [json.loads(p.read_text()) for p in results.glob("*/download.json")]
    assert len(manifests) == 3 and all(m["status"] == "ok" for m in manifests)
    starts = sorted(m["timings"]["started"] for m in manifests if m["account"] == "demo_a")
    assert len(starts) == 2 and starts[1] - starts[0] >= 2 - 0.05  # the account's gap, for real
    assert all(m["timings"]["download_seconds"] >= 0.3 for m in manifests)  # the sleep inside the turn
    transcripts = [json.loads(p.read_text()) for p in results.glob("*/transcript.json")]
    assert {t["source"] for t in transcripts} == {"benchmark"}  # no model ran
    conn = sqlite3.connect(results / "claimflow.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM videos WHERE status = 'ok'").fetchone()[0] == 3
    assert (results / "summary.tsv").read_text().count("\tok\t") == 3

"""The demo on a busy machine: the whole run pinned to one core beside a CPU burner (a laptop
compiling, a shared CI runner), with llm.timeout at 10 s. Every request of the bundled model
takes longer than that here; the local model's bound follows the speed it measures when its job
starts (claimflow/llm/local.py), so the run completes instead of failing as 'crashed'."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import DEMO, DEMO_CONFIG, run_workflow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) pins the run to one core"),
]


def test_the_demo_completes_on_one_busy_core_with_a_short_llm_timeout(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"sources": [str(DEMO / "sleep.ogg")],
                                                          "llm": {"timeout": 10}}))  # fmt: skip
    burner = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
    try:
        run = run_workflow(
            tmp_path,
            runner="run",
            jobs=2,
            configs=(DEMO_CONFIG, tmp_path / "config.yaml"),
            prefix=("taskset", "-c", "0"),
            env=dict(os.environ),
        )
    finally:
        burner.kill()
        burner.wait()
    last = run.stderr.rstrip().splitlines()[-1]
    assert last == "claimflow: 1 videos: 1 ok, 0 partial, 0 failed, 0 unavailable, 0 no speech"
    log = (tmp_path / "results/logs/mine/file-sleep.log").read_text()
    assert "local model speed here:" in log  # measured at the job's start, under the same load
    claims = json.loads((tmp_path / "results/file-sleep/claims.json").read_text())
    assert claims["status"] == "ok" and claims["usage"]["requests"] >= 1
    # Answers here took longer than llm.timeout (10 s): a fixed bound would have stopped them.
    answered = [float(m) for m in re.findall(r"local model answered \d+ tokens in ([\d.]+) s", log)]
    assert answered and max(answered) > 10, answered

"""The demo through `--profile profiles/slurm` on a real single-node SLURM on localhost.

Checked from the cluster's side: every `sbatch` call is recorded by a wrapper in PATH before
it reaches the real sbatch, and the plugin's own logs sit under `.snakemake/slurm_logs/`.
Transcribe, mine and evaluate must have been submitted; download and store must not (they run
on the main process's host); and the database must hold the same claims as a local run's.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_CONFIG, REPO, run_workflow
from tests.harness import slurmcluster

pytestmark = pytest.mark.slow
# transcribe alone; mine, evaluate and embed as the profile's group "claims" (named with its rules)
GROUP = "claims_embed_evaluate_mine"
# Short polling: the plugin waits 40 s before its first status check by default.
# Kept logs: the plugin's per-job logs are the second witness of what ran on the cluster.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "1", "--slurm-status-command", "squeue",
                "--latency-wait", "5", "--slurm-keep-successful-logs"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> slurmcluster.Cluster:
    why = slurmcluster.missing()
    if why:
        pytest.skip(f"no test SLURM: {why}")
    with slurmcluster.Cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def run_on_slurm(
    cluster: slurmcluster.Cluster, workdir: Path, configfiles: tuple[str, ...] = (), targets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    overrides = {"sources": str(REPO / "demo/sources.txt"), "results": "results", "state": "state"}
    (workdir / "test.yaml").write_text(yaml.safe_dump(overrides))
    # The test node has 2 CPUs; the profile asks 4 for transcription. Snakemake ignores SIGTERM
    # (SLURM-TESTING.md): a hung run is killed outright.
    run = run_workflow(
        workdir,
        *FAST_POLLING,
        "--set-threads",
        "transcribe=2",
        check=False,
        targets=targets,
        profile="slurm",
        jobs=8,
        configs=(DEMO_CONFIG, workdir / "test.yaml", *map(Path, configfiles)),
        prefix=("timeout", "-s", "KILL", "600"),
        env=cluster.env | {"CI": "true"},
    )
    if run.returncode != 0:
        raise AssertionError(f"snakemake on SLURM failed ({run.returncode}):\n{run.stdout[-3000:]}\n"
                             f"{run.stderr[-6000:]}")  # fmt: skip
    return run


def submitted_rules(calls: list[list[str]]) -> list[str]:
    """The rule (or group: `<group>_<its rules>`) of each sbatch call, from the plugin's
    `--comment rule_<name>[_wildcards_<values>]`."""
    names = []
    for args in calls:
        comment = args[args.index("--comment") + 1] if "--comment" in args else ""
        names.append(re.sub(r"^rule_|_wildcards_.*$", "", comment))
    return names


def claims_per_video(database: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(database)
    found: dict[str, list[str]] = {}
    for vid, text in conn.execute("SELECT vid, claim_text FROM claims ORDER BY vid, claim_id"):
        found.setdefault(vid, []).append(text)
    conn.close()
    return found


def test_the_demo_on_slurm_sends_only_processing_to_the_cluster_and_stores_what_a_local_run_does(
    cluster: slurmcluster.Cluster, demo_run: Path, tmp_path: Path
):
    before = len(cluster.sbatch_calls())
    run_on_slurm(cluster, tmp_path)
    calls = cluster.sbatch_calls()[before:]
    rules = submitted_rules(calls)
    assert sorted(rules) == sorted(["transcribe", GROUP] * 3), rules  # two submissions per video
    assert not {"download", "store", "summary", "link", "judge"} & set(rules)  # the main host's (the database)
    logs = tmp_path / ".snakemake" / "slurm_logs"
    submitted = {p.name for p in logs.iterdir()}
    assert submitted == {"rule_transcribe", f"group_{GROUP}"}, submitted
    # the group job ran its three rules: each left its own job log and benchmark
    assert len(list((tmp_path / "results/benchmarks/mine").glob("*.tsv"))) == 3
    assert len(list((tmp_path / "results/benchmarks/evaluate").glob("*.tsv"))) == 3
    assert len(list((tmp_path / "results/benchmarks/embed").glob("*.tsv"))) == 3
    # download and store ran here: their job logs exist, and no cluster log names them
    assert len(list((tmp_path / "results/logs/download").glob("*.log"))) == 3
    assert len(list((tmp_path / "results/logs/store").glob("*.log"))) == 3
    # the same claims per video as the local run of the same demo
    local = claims_per_video(demo_run / "results/claimflow.sqlite")
    assert claims_per_video(tmp_path / "results/claimflow.sqlite") == local
    assert sum(len(v) for v in local.values()) > 0
    assert (tmp_path / "results/report.html").exists()


def test_one_switch_sends_downloads_to_the_compute_nodes_and_their_pacing_holds(
    cluster: slurmcluster.Cluster, tmp_path: Path
):
    nodes = {"download": {"on_compute_nodes": True}, "pacing": {"delay": [3, 3], "warmup": {"videos": 0}}}
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(nodes))
    before = len(cluster.sbatch_calls())
    run_on_slurm(cluster, tmp_path, configfiles=(str(tmp_path / "nodes.yaml"),), targets=("downloads",))
    assert sorted(submitted_rules(cluster.sbatch_calls()[before:])) == ["download"] * 3
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*/download.json")]
    assert len(manifests) == 3 and all(m["status"] == "ok" for m in manifests)
    starts = sorted(m["timings"]["started"] for m in manifests if m["account"] == "demo_a")
    assert len(starts) == 2 and starts[1] - starts[0] >= 3 - 0.05  # one account's gap, across cluster jobs

"""The demo on a real single-node SLURM, each video's transcribe -> mine -> evaluate as three
cluster jobs, with mine and evaluate as one group job, and as one group job for the whole chain
(`--groups ... --group-components <group>=1`).

Reported per mode: sbatch calls (recorded by a wrapper before the real sbatch), makespan of
the whole run, and the overhead on each dependency edge inside a video's chain: from the
moment one stage's output exists to the moment the next stage's job started (its output's
time minus its `benchmark:` seconds): waiting for the status check, sbatch, the queue, and the
job's own re-parse of the workflow. The modes alternate, each on a fresh folder and a fresh
LLM cache, so both do the same work.

Run (root, with slurm-wlm and munge installed): .venv/bin/python benchmarks/slurm_groups.py [rounds=1]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.core import atomic  # noqa: E402
from tests.harness import slurmcluster  # noqa: E402

MODES = {
    "per rule": [],
    "mine+evaluate": ["--groups", "mine=llm", "evaluate=llm", "--group-components", "llm=1"],
    "whole chain": ["--groups", "transcribe=chain", "mine=chain", "evaluate=chain", "--group-components", "chain=1"],
}
STAGES = [("transcribe", "transcript.json"), ("mine", "claims.json"), ("evaluate", "evaluation.json")]


def run(cluster: slurmcluster.Cluster, workdir: Path, mode: list[str]) -> float:
    (workdir / "test.yaml").write_text(f"sources: {REPO}/demo/sources.txt\nresults: results\nstate: state\n")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--profile", str(REPO / "profiles/slurm"), "-j", "8", "--slurm-init-seconds-before-status-checks", "1",
               "--slurm-status-command", "squeue", "--latency-wait", "5", "--set-threads", "transcribe=2",
               *mode,
               "--configfile", str(REPO / "config/demo.yaml"), str(workdir / "test.yaml")]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(["timeout", "-s", "KILL", "900", *command], env=cluster.env, check=True, capture_output=True)
    return time.perf_counter() - began


def edge_overheads(results: Path) -> list[float]:
    gaps = []
    for folder in results.iterdir():
        if not (folder / "evaluation.json").exists():
            continue
        for (_, before), (stage, after) in zip(STAGES, STAGES[1:], strict=False):
            seconds = atomic.benchmark_seconds(results / "benchmarks" / stage / f"{folder.name}.tsv")
            started = (folder / after).stat().st_mtime - seconds
            gaps.append(started - (folder / before).stat().st_mtime)
    return gaps


def main(rounds: int = 1) -> None:
    why = slurmcluster.missing()
    if why:
        sys.exit(f"no test SLURM: {why}")
    with tempfile.TemporaryDirectory() as tmp, slurmcluster.Cluster(Path(tmp) / "slurm") as cluster:
        figures: dict[str, dict[str, list[float]]] = {}
        for round_ in range(rounds):
            for name, mode in MODES.items():
                workdir = Path(tmp) / f"{name.replace(' ', '_')}-{round_}"
                workdir.mkdir()
                calls = len(cluster.sbatch_calls())
                makespan = run(cluster, workdir, mode)
                entry = figures.setdefault(name, {"sbatch": [], "makespan": [], "edges": []})
                entry["sbatch"].append(len(cluster.sbatch_calls()) - calls)
                entry["makespan"].append(makespan)
                entry["edges"] += edge_overheads(workdir / "results")
    for name, entry in figures.items():
        print(f"{name:13s} sbatch calls {statistics.mean(entry['sbatch']):.0f}, makespan "
              f"{statistics.median(entry['makespan']):.1f} s, per-edge overhead median "
              f"{statistics.median(entry['edges']):.1f} s (max {max(entry['edges']):.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

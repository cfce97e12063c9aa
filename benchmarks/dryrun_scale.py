"""Planning 7,000 videos: `snakemake -n` of claimflow against three baselines, in one run.

(a) claimflow's dry run on 7,000 YouTube URLs (nothing downloaded yet);
(b) a trivial five-rule Snakefile with `shell:` over the same ids;
(c) the same five rules with claimflow's directives: `script:`, `conda:`, `log:`, `benchmark:`
    and a `params` function (what Snakemake itself costs for the directives claimflow needs);
(d) the same as (c) with claimflow's files per rule (11 outputs and 9 inputs per video against
    5 and 4): what Snakemake costs for the files claimflow declares;
(d') the same as (d) with claimflow's `threads:` and `resources:` as well (a slot function per
    account on the download, a memory function of the input and a GPU count on transcribe, the
    LLM slot on mine and evaluate; functions with their signature read once, as claimflow's
    are): every declaration claimflow makes, so that what is left is claimflow's own code;
(e) a cluster job's parse: `--target-jobs transcribe:vid=<one>` on the 7,000-source batch,
    against the same on a one-source batch (what each submitted job pays to re-parse).
Since the captions pass (issue 25) claimflow has a sixth rule per video (`captions`, whose
`captions.json` the download reads, on its own `captions_pass` slot): the baselines (c), (d) and
(d') are measured both ways, with five rules as before and with the captions rule in front
("+ captions"), so the ratio to the same declarations says what claimflow's own code costs and
the five-rule ratio what the pass's jobs cost.
Each in a fresh process, alternating; reported: median wall seconds, peak RSS (the kernel's
high-water mark of the process tree), and claimflow's ratios to (c)
(d) and (d'). Goal (the issue's): (a) <= 1.1 x (c).

Run: .venv/bin/python benchmarks/dryrun_scale.py [videos=7000] [rounds=3]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Five chained rules, one file in and one out each: the baselines.
CHAIN = (
    ("download", (), ("download.json",)),
    ("transcribe", ("download.json",), ("transcript.json",)),
    ("mine", ("transcript.json",), ("claims.json",)),
    ("evaluate", ("claims.json",), ("evaluation.json",)),
    ("store", ("evaluation.json",), ("stored.json",)),
)
# The same five rules with claimflow's files: 11 outputs and 9 inputs per video, not 5 and 4
# (Snakemake's cost grows with every declared file).
CLAIMFLOW_FILES = (
    ("download", (), ("audio", "download.json", "captions.vtt")),
    ("transcribe", ("audio", "download.json", "captions.vtt"),
     ("transcript.json", "transcript.srt", "transcript.vtt", "transcript.txt")),
    ("mine", ("transcript.json",), ("claims.json",)),
    ("evaluate", ("claims.json",), ("evaluation.json",)),
    ("store", ("download.json", "transcript.json", "claims.json", "evaluation.json"), ("stored.json",)),
)  # fmt: skip
# The captions pass in front of the download, as claimflow declares it.
CAPTIONS_STEP = ("captions", (), ("captions.json",))


def with_captions(chain: tuple) -> tuple:
    (download, inputs, outputs), rest = chain[0], chain[1:]
    return (CAPTIONS_STEP, (download, (*inputs, "captions.json"), outputs), *rest)


HEAD = """
IDS = [line.strip() for line in open("ids.txt")]
def get_params(wildcards):
    return {"vid": wildcards.vid}
rule all:
    input: expand("results/{vid}/stored.json", vid=IDS)
"""
# For (d'): claimflow's slots declared as it declares them, its functions signed as its are.
RESOURCES_HEAD = """
import inspect, zlib
from snakemake.common import overwrite_function_params
def signed(func):
    overwrite_function_params(func, inspect.signature(func).parameters)
    return func
def slot_of(account):
    return signed(lambda wildcards, attempt: int(zlib.crc32(wildcards.vid.encode()) % 3 == account))
@signed
def mem_mb(wildcards, input):
    return 1000
for account in range(3):
    workflow.register_resource(f"account_{account}", 1)
workflow.register_resource("llm", 1)
workflow.register_resource("captions_pass", 1)
ACCOUNT_0, ACCOUNT_1, ACCOUNT_2 = (slot_of(a) for a in range(3))
"""


# claimflow's threads and resources per rule, for (d').
RESOURCES = {
    "captions": ["    resources: captions_pass=1"],
    "download": ["    resources: " + ", ".join(f"account_{a}=ACCOUNT_{a}" for a in range(3))],
    "transcribe": ["    threads: 2", "    resources: mem_mb=mem_mb, gpu=0"],
    "mine": ["    threads: 2", "    resources: llm=1"],
    "evaluate": ["    threads: 2", "    resources: llm=1"],
}


def snakefile(directives: bool, chain=CHAIN, resources: bool = False) -> str:
    """Five chained rules over the ids: with `shell:` alone, or with claimflow's directives
    (and, with `resources`, its threads and resources)."""
    text = HEAD + (RESOURCES_HEAD if resources else "")
    for name, inputs, outputs in chain:
        lines = [f"rule {name}:"]
        if inputs:
            lines.append("    input: " + ", ".join(f'"results/{{vid}}/{f}"' for f in inputs))
        lines.append("    output: " + ", ".join(f'"results/{{vid}}/{f}"' for f in outputs))
        if directives:
            lines += [f'    log: "results/logs/{name}/{{vid}}.log"',
                      f'    benchmark: "results/benchmarks/{name}/{{vid}}.tsv"',
                      '    conda: "env.yaml"', "    params: settings=get_params"]  # fmt: skip
            lines += RESOURCES.get(name, []) if resources else []
            lines.append('    script: "noop.py"')
        else:
            lines.append('    shell: "touch {output}"')
        text += "\n" + "\n".join(lines) + "\n"
    return text


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a fresh child process tree."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"subprocess.run({command!r}, cwd={str(cwd)!r}, check=True,\n"
        "               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main(videos: int = 7000, rounds: int = 3) -> None:
    ids = [f"{i:011d}".replace("0", "a", 3) for i in range(videos)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = ("batch", "single", "trivial", "directives", "files", "declared", "directives6", "files6",
                 "declared6")  # fmt: skip
        batch, single, trivial, directives, files, declared, directives6, files6, declared6 = (root / n for n in names)
        for folder in (root / n for n in names):
            folder.mkdir()
        (batch / "videos.txt").write_text("".join(f"https://www.youtube.com/watch?v={v}\n" for v in ids))
        (single / "videos.txt").write_text(f"https://www.youtube.com/watch?v={ids[0]}\n")
        for folder in (batch, single):
            (folder / "c.yaml").write_text(f"sources: {folder}/videos.txt\nresults: results\nstate: state\n"
                                           "accounts: [{name: a}, {name: b}, {name: c}]\n")  # fmt: skip
            ready = folder / "results" / f"youtube-{ids[0]}"
            ready.mkdir(parents=True)
            for name in ("audio", "download.json", "captions.vtt", "captions.json"):
                (ready / name).write_text("{}")
        for folder, text in ((trivial, snakefile(False)), (directives, snakefile(True)),
                             (files, snakefile(True, CLAIMFLOW_FILES)),
                             (declared, snakefile(True, CLAIMFLOW_FILES, resources=True)),
                             (directives6, snakefile(True, with_captions(CHAIN))),
                             (files6, snakefile(True, with_captions(CLAIMFLOW_FILES))),
                             (declared6, snakefile(True, with_captions(CLAIMFLOW_FILES), resources=True))):  # fmt: skip
            (folder / "Snakefile").write_text(text)
            (folder / "ids.txt").write_text("\n".join(f"youtube-{v}" for v in ids) + "\n")
            (folder / "noop.py").write_text("")
            (folder / "env.yaml").write_text("dependencies: [python]\n")
        config = ["--configfile", str(REPO / "config/config.yaml")]
        commands = {
            "claimflow -n": (
                SNAKEMAKE + ["-n", "--snakefile", str(REPO / "Snakefile"), *config, str(batch / "c.yaml")],
                batch,
            ),  # fmt: skip
            "trivial shell -n": (SNAKEMAKE + ["-n", "-c1"], trivial),
            "same directives -n": (SNAKEMAKE + ["-n", "-c1"], directives),
            "same directives+files -n": (SNAKEMAKE + ["-n", "-c1"], files),
            "same declarations -n": (SNAKEMAKE + ["-n", "-c1"], declared),
            "+ captions: directives -n": (SNAKEMAKE + ["-n", "-c1"], directives6),
            "+ captions: +files -n": (SNAKEMAKE + ["-n", "-c1"], files6),
            "+ captions: declarations -n": (SNAKEMAKE + ["-n", "-c1"], declared6),
        }
        for label, folder in ((f"job parse, {videos} sources", batch), ("job parse, 1 source", single)):
            commands[label] = (SNAKEMAKE + ["-n", "--snakefile", str(REPO / "Snakefile"), "--target-jobs",
                                            f"transcribe:vid=youtube-{ids[0]}", "--allowed-rules", "transcribe",
                                            *config, str(folder / "c.yaml")], folder)  # fmt: skip
        found: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, (command, cwd) in commands.items():
                found[name].append(measure(command, cwd))
    medians = {name: (statistics.median(t for t, _ in v), max(m for _, m in v)) for name, v in found.items()}
    base, with_files, declared_s, base6, declared6_s = (
        medians[n][0] for n in ("same directives -n", "same directives+files -n", "same declarations -n",
                                "+ captions: directives -n", "+ captions: declarations -n"))  # fmt: skip
    for name, (seconds, peak) in medians.items():
        print(
            f"{name:28s} {seconds:7.2f} s  peak {peak:6.0f} MB  ratio to same directives {seconds / base:.2f}"
            f" (with captions {seconds / base6:.2f}), to same directives and files {seconds / with_files:.2f}"
            f", to same declarations {seconds / declared_s:.2f} (with captions {seconds / declared6_s:.2f})"
        )


if __name__ == "__main__":
    began = time.perf_counter()
    main(*(int(a) for a in sys.argv[1:]))
    print(f"(benchmark took {time.perf_counter() - began:.0f} s)")

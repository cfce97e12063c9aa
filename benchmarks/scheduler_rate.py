"""The scheduler's job rate on no-op videos, greedy against Snakemake's default (ilp).

(a) `--touch` on N videos (default 2,000: 10,003 jobs): Snakemake's touch executor marks each
    job done inside the main process, so what runs is the scheduler itself: job selection
    under the account slots and the LLM bound, and the DAG's bookkeeping as jobs finish.
    Reported: jobs per second of the whole run and of its scheduling part (the run minus a
    dry run of the same batch, which is the planning both pay).
(b) benchmark mode with every stage's sleep 0 and no pacing gap, really executed on M videos
    (default 40: 203 jobs): each job is a real script in its own Python process, which is what
    bounds a machine of this size; the main process's own CPU per job shows the scheduler's
    share of it.

Addresses: `media` (default), each video a media file's own address (no captions job: five jobs
a video), or `pages`, each a page the captions pass asks first (six jobs a video, the pass's on
its own `captions_pass` slot): what the captions pass's jobs cost the scheduler.

With a budget (seconds), each (a) run is stopped after it and reports the jobs done by then
(Snakemake's "N of M steps" line): how far each scheduler gets in the same time on a batch too
large to finish (2,000 videos take over half an hour).

Run: .venv/bin/python benchmarks/scheduler_rate.py [touch_sizes=250,500,1000] [videos_real=40] [budget_s=0: none]
[addresses=media: media, pages or both, comma-separated]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SCHEDULERS = ("greedy", "ilp")
CLOCK = __import__("os").sysconf("SC_CLK_TCK")


def batch(root: Path, videos: int, addresses: str = "media") -> list[str]:
    root.mkdir(parents=True)
    suffix = ".mp3" if addresses == "media" else ""
    (root / "videos.txt").write_text("".join(f"https://example.com/bench/v{n:05d}{suffix}\n" for n in range(videos)))
    config = {
        "sources": str(root / "videos.txt"), "results": "results", "state": "state",
        "accounts": [{"name": f"acct{n}"} for n in range(3)],
        "pacing": {"delay": [0, 0], "floor": 0, "warmup": {"videos": 0},
                   "buffer": {"min": 0, "target": 100000, "max": 100000, "fast": 1.0, "slow": 1.0}},
        "benchmark": {"sleep": {"captions": 0, "download": 0, "transcribe": 0, "mine": 0, "evaluate": 0}},
        "captions": {"pacing": {"delay": [0, 0], "floor": 0}},
    }  # fmt: skip
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
            str(root), "--profile", str(REPO / "profiles/local"), "-j", "16",
            "--configfile", str(root / "bench.yaml")]  # fmt: skip


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK  # utime + stime of this process alone


def timed(command: list[str], budget: float | None = None) -> tuple[float, float, str]:
    """Wall seconds, the main process's own CPU seconds (last sample before it ended), output.
    With `budget`, the run is killed after that many seconds (Snakemake handles Ctrl-C only between
    scheduling rounds, which take minutes at this size)."""
    began = time.perf_counter()
    stopped = False
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
        cpu = 0.0
        while process.poll() is None:
            cpu = cpu_seconds(process.pid) or cpu
            if budget is not None and time.perf_counter() - began >= budget:
                process.kill()
                process.wait()
                stopped = True
                break
            time.sleep(0.2)
        wall = time.perf_counter() - began
        out.seek(0)
        text = out.read()
    if stopped:
        return wall, cpu, text
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{text[-3000:]}")
    return wall, cpu, text


def jobs_in(text: str, finished: bool = True) -> int:
    """The jobs done: all of them (the "(100%) done" line), or, for a stopped run, the last count."""
    for line in reversed(text.splitlines()):
        if "steps (100%) done" in line:
            return int(line.split(" of ")[1].split()[0])
        if not finished and " steps (" in line and " of " in line:
            return int(line.split(" of ")[0].split()[-1])
    raise SystemExit("no '... steps (...) done' line in the output:\n" + text[-2000:])


def main(touch_sizes: str = "250,500,1000", videos_real: int = 40, budget: int = 0, addresses: str = "media") -> None:
    runs = [(int(n), s, a) for a in addresses.split(",") for n in touch_sizes.split(",") for s in SCHEDULERS]
    with tempfile.TemporaryDirectory() as tmp:
        for videos_touch, scheduler, kind in runs:
            folder = Path(tmp) / f"touch-{scheduler}-{videos_touch}-{kind}"
            command = batch(folder, videos_touch, kind) + ["--scheduler", scheduler]
            planning, _, _ = timed(command + ["-n", "--quiet", "all"])
            wall, cpu, text = timed(command + ["--touch"], budget or None)
            jobs = jobs_in(text, finished=not budget)
            # milp hands a round to greedy when it selects nothing (every slot busy) or fails
            fallbacks = text.count("falling back to greedy")
            print(f"(a) --touch, {videos_touch} videos ({kind}), {scheduler:6s}: {jobs} jobs in {wall:.1f} s = "
                  f"{jobs / wall:.1f} jobs/s; "
                  f"minus planning ({planning:.1f} s): {jobs / (wall - planning):.1f} jobs/s; "
                  f"main process CPU {cpu:.1f} s; ilp time-outs/failures {fallbacks}")  # fmt: skip
        for scheduler in SCHEDULERS if videos_real else ():
            command = batch(Path(tmp) / f"real-{scheduler}", videos_real) + ["--scheduler", scheduler]
            wall, cpu, text = timed(command)
            jobs = jobs_in(text)
            print(f"(b) executed, {scheduler:6s}: {jobs} jobs in {wall:.1f} s = {jobs / wall:.2f} jobs/s; "
                  f"main process CPU {cpu:.1f} s = {1000 * cpu / jobs:.0f} ms per job")  # fmt: skip


if __name__ == "__main__":
    began = time.perf_counter()
    main(*(a if i in (0, 3) else int(a) for i, a in enumerate(sys.argv[1:])))
    print(f"(benchmark took {time.perf_counter() - began:.0f} s)")

"""Overlap: does the workflow keep every stage busy? Benchmark mode (`benchmark.sleep`) replaces
each stage's work by a sleep while the scheduler, the account slots, the pacing under its lock,
the buffer rules and the store stay real. Two batches of N videos with 3 accounts:

(a) downloads bound: paced gaps of G s, quick processing;
(b) transcription bound: a short gap, transcription T s on K GPUs (`transcribe.device: cuda`,
    `--resources gpu=K`: each audio road transcribe job asks for one; one from captions, none).

Reported per case: the makespan (first download start to the last store) against the bound
(the larger of the paced download time, (videos per account - 1) x gap + one transfer, and the
processing time over its parallelism, N x transcribe / K; plus one video's tail through the
later stages, from the run's own benchmark files), and `claimflow plan`'s prediction for the
same batch with the stage times measured in the run. Goals: makespan <= 1.05 x bound; the
plan within 10% of the makespan. The buffer factors are set to 1 so the gap is exactly G.

(c) two roads: case (b) with the captions pass on and `captioned` of the videos captioned
    (benchmark.captioned), against the two-road bound (claimflow/commands/plan.py
    two_road_bound: the pass over every video, the accounts and transcription over the audio
    road's, mining and after over all);
(d) captions off: the same batch with `captions.enabled: false` (every video the audio road),
    for the headline ratio (d) / (c).

Run: .venv/bin/python benchmarks/overlap.py [videos=200] [gap_a=60] [transcribe_b=20] [captioned=0.8]
[only: case names, comma-separated: downloads bound, transcription bound, two roads, captions off]
Cost on 2 cores: each job costs about 1 s of CPU to start (Python and Snakemake's script
machinery), so keep the modelled rates below about 0.3 videos/s.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.commands import plan  # noqa: E402
from claimflow.core import atomic  # noqa: E402
from claimflow.core import config as cf_config  # noqa: E402

ACCOUNTS = 3


def run_case(root: Path, videos: int, gap: float, sleep: dict[str, float], slots: int,
             captioned: float | None = None, enabled: bool = True) -> dict[str, float]:  # fmt: skip
    """One batch; `captioned`: the captions pass on (pages, not media addresses) with that share
    of videos captioned, 0 for the pass with none, None: the pass has nothing to ask (media files'
    own addresses, as cases a and b); `enabled` False: pages, with captions.enabled off."""
    root.mkdir()
    suffix = "" if captioned is not None else ".mp3"
    (root / "videos.txt").write_text("".join(f"https://example.com/bench/v{n:04d}{suffix}\n" for n in range(videos)))
    config = {
        "sources": str(root / "videos.txt"), "results": "results", "state": "state",
        "accounts": [{"name": f"acct{n}"} for n in range(ACCOUNTS)],
        "pacing": {"delay": [gap, gap], "floor": 0.1, "warmup": {"videos": 0},
                   "buffer": {"min": 0, "target": 1000, "max": 1000, "fast": 1.0, "slow": 1.0}},
        "benchmark": {"sleep": sleep, "captioned": captioned or 0.0},
        # Each Whisper job asks for a GPU (the stand-in uses none): the slots are the scheduler's.
        "transcribe": {"device": "cuda"},
        "captions": {"enabled": enabled, "pacing": {"delay": [sleep.get("captions", 0.0)] * 2, "floor": 0.0}},
    }  # fmt: skip
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(root),
               "--profile", str(REPO / "profiles/local"), "-j", "64",
               "--set-threads", "transcribe=1", "mine=1", "evaluate=1",
               "--resources", f"gpu={slots}", "llm=8",
               "--configfile", str(root / "bench.yaml")]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{root.name}: snakemake failed ({run.returncode}):\n{run.stderr[-6000:]}")
    results = root / "results"
    manifests = [json.loads(p.read_text()) for p in results.glob("*/download.json")]
    found = [json.loads(p.read_text()) for p in results.glob("*/captions.json")]
    first = min([m["timings"]["started"] for m in manifests if "timings" in m]
                + [f["timings"]["started"] for f in found if "timings" in f])  # fmt: skip
    last = max(p.stat().st_mtime for p in results.glob("*/stored.json"))
    measured = {stage: value for stage, (value, _) in plan.measured_seconds(str(results)).items()}
    transfer = statistics.mean(m["timings"]["download_seconds"] for m in manifests if "timings" in m)
    per_account = math.ceil(videos / ACCOUNTS)
    downloads = (per_account - 1) * gap + transfer
    processing = videos * measured["transcribe"] / slots
    tail = sum(measured[s] for s in ("mine", "evaluate", "store")) + (measured["transcribe"] if downloads >= processing
                                                                        else 0.0)  # fmt: skip
    bound = max(downloads, processing) + tail
    merged = cf_config.load([root / "bench.yaml"])
    minutes = {"download": transfer / 60} | {s: measured[s] / 60 for s in plan.PROCESSING}
    workers = {"transcribe": slots, "mine": 8, "evaluate": 8, "store": 64}
    share = sum(m.get("road") == "captions" for m in manifests) / len(manifests)
    batch, _ = plan.from_config(merged, videos, minutes, workers, captioned=share)
    if captioned is not None and enabled:
        # The pass's own time per video, as it ran (its gap and its job), from its benchmark files.
        asked = [atomic.benchmark_seconds(p) for p in (results / "benchmarks/captions").glob("*.tsv")]
        batch = replace(batch, captions_seconds=statistics.mean(a for a in asked if a is not None))
        stage, work = plan.two_road_bound(batch)
        bound = work + tail
    predicted = plan.simulate(batch).makespan
    return {"makespan": last - first, "bound": bound, "plan": predicted, "captioned": share,
            **{f"{s}_s": v for s, v in measured.items()}}  # fmt: skip


def main(videos: int = 200, gap_a: float = 60.0, transcribe_b: float = 20.0, captioned: float = 0.8,
         only: str = "") -> None:  # fmt: skip
    roads = {"captions": 0.2, "download": 1.0, "transcribe": transcribe_b, "mine": 0.5, "evaluate": 0.2}
    cases = {
        "downloads bound": (gap_a, {"download": 1.0, "transcribe": 1.0, "mine": 0.5, "evaluate": 0.2}, 4),
        "transcription bound": (
            gap_a / 6,
            {"download": 1.0, "transcribe": transcribe_b, "mine": 0.5, "evaluate": 0.2},
            2,
        ),  # fmt: skip
        "two roads": (gap_a / 6, dict(roads), 2, captioned),
        "captions off": (gap_a / 6, dict(roads), 2, captioned, False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (gap, sleep, slots, *share) in cases.items():
            if only and name not in only.split(","):
                continue
            found = run_case(Path(tmp) / name.replace(" ", "_"), videos, gap, sleep, slots, *share)
            print(f"{name}: makespan {found['makespan']:.0f} s, bound {found['bound']:.0f} s "
                  f"(ratio {found['makespan'] / found['bound']:.3f}), plan {found['plan']:.0f} s "
                  f"({found['plan'] / found['makespan'] - 1:+.1%} of the makespan), {found['captioned']:.0%} "
                  "captioned; per job: "
                  + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in found.items() if k.endswith("_s")))  # fmt: skip


if __name__ == "__main__":
    main(*(a if i == 4 else float(a) if i else int(a) for i, a in enumerate(sys.argv[1:])))

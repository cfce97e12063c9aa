"""`claimflow status` on a 7,000-video batch folder, against the floor it cannot beat.

A synthetic batch: 7,000 YouTube URLs, of which 3,000 are stored (in a real database written
by the store code), 1,000 evaluated, 1,000 mined, 500 transcribed, 500 downloaded, 30 failed
at transcription (with their logs), the rest not downloaded; three account state files.
Measured, alternating, each in a fresh process: (a) `claimflow status --json`, (b) the same
as tables, and (c) the baseline: a fresh Python that loads the config and reads the sources
file (which status must do too). Reported: median wall seconds and the ratios to (c).
The issue's goal: status answers in under 2 s.

Run: .venv/bin/python benchmarks/status_scale.py [videos=7000] [rounds=5]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.store import database as store  # noqa: E402
from tests.test_store import _docs  # noqa: E402

BASELINE = """
from claimflow.core import config
from claimflow.batch import sources
c = config.load([{config!r}])
print(len(sources.read_sources(c["sources"])))
"""


def make_batch(root: Path, videos: int) -> Path:
    ids = [f"{i:011d}"[-11:].replace("0", "a", 3) for i in range(videos)]
    (root / "videos.txt").write_text("".join(f"https://www.youtube.com/watch?v={v}\n" for v in ids))
    results = root / "results"
    conn = store.connect(results / "claimflow.sqlite")
    now = time.time()
    stages = ["download.json", "transcript.json", "claims.json", "evaluation.json", "stored.json"]
    for n, video in enumerate(ids):
        vid = f"youtube-{video}"
        done = 5 if n < 3000 else 4 if n < 4000 else 3 if n < 5000 else 2 if n < 5500 else 1 if n < 6000 else 0
        folder = results / vid
        if done:
            folder.mkdir(parents=True)
        for name in stages[:done]:
            doc = {"vid": vid, "status": "ok", "duration": 3600.0, "job": {"started": now - 86400},
                   "usage": {"prompt_tokens": 40000, "completion_tokens": 4000, "requests": 20}}  # fmt: skip
            (folder / name).write_text(json.dumps(doc))
        if done == 5:
            store.upsert(conn, vid, store.rows_for(*_docs(vid, 20)))
        if done == 1 and n < 5530:
            log = results / "logs" / "transcribe" / f"{vid}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("ERROR job failed: RuntimeError: boom\n")
    conn.close()
    accounts = root / "state" / "accounts"
    accounts.mkdir(parents=True)
    for name in ("a", "b", "c"):
        (accounts / f"{name}.json").write_text(json.dumps({"last_start": now - 100, "downloads_started": 2000}))
    config = root / "config.yaml"
    config.write_text(json.dumps({"sources": str(root / "videos.txt"), "results": str(results),
                                  "state": str(root / "state"), "accounts": [{"name": n} for n in "abc"]}))  # fmt: skip
    return config


def timed(command: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - began


def main(videos: int = 7000, rounds: int = 5) -> None:
    claimflow = str(Path(sys.executable).parent / "claimflow")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        config = make_batch(root, videos)
        print(f"made {videos} video folders in {time.perf_counter() - began:.1f} s")
        commands = {
            "status --json": [claimflow, "status", "--json", "--configfile", str(config)],
            "status (tables)": [claimflow, "status", "--configfile", str(config)],
            "baseline": [sys.executable, "-c", BASELINE.format(config=str(config))],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                times[name].append(timed(command, root))
        out = subprocess.run(commands["status --json"], cwd=root, capture_output=True, text=True, check=True)
        found = json.loads(out.stdout)
        print({stage: (s["done"], s["waiting"], s["failed"]) for stage, s in found["stages"].items()})
    base = statistics.median(times["baseline"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:16s} median {median:.3f} s  ratio to baseline {median / base:.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

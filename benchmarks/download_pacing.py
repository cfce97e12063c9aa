"""Download pacing: achieved throughput against the bound 3 / mean gap, and the smallest gap.

A real Snakemake run (`snakemake downloads`) with 3 cookie accounts downloads N videos from
the fault server on loopback (no faults), with gaps scaled from minutes to seconds. From
the server's request log (per account, by its Cookie header):
- achieved rate: sum over accounts of (downloads - 1) / (last start - first start), against
  the bound 3 / mean gap (goal: at least 0.95);
- smallest start-to-start gap per account, against the floor (goal: never below).
Also the scheduling efficiency: drawn gaps (from download.json) over the observed gaps.

Run: .venv/bin/python benchmarks/download_pacing.py [videos] [gap_min] [gap_max]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_download_workflow import downloads_by_account, make_batch, run_downloads  # noqa: E402


def main(videos: int = 30, low: float = 2.0, high: float = 3.0) -> dict:
    floor = low * 0.75
    with tempfile.TemporaryDirectory() as tmp:
        workdir, server = make_batch(Path(tmp), videos, ["acct1", "acct2", "acct3"], delay=[low, high], floor=floor)
        try:
            run_downloads(workdir)
        finally:
            server.__exit__()
        per = downloads_by_account(server)
        docs = [json.loads(p.read_text()) for p in (workdir / "results").glob("*/download.json")]
    mean_gap = (low + high) / 2
    bound = 3 / mean_gap
    achieved = sum((len(s) - 1) / (s[-1][0] - s[0][0]) for s in per.values())
    gaps = {a: [b[0] - x[0] for x, b in zip(s, s[1:], strict=False)] for a, s in per.items()}
    drawn = [d["timings"]["gap"] for d in docs if d["timings"]["waited"] > 0]
    observed = [g for gs in gaps.values() for g in gs]
    report = {
        "videos": videos,
        "gap_range": [low, high],
        "floor": floor,
        "bound_per_s": round(bound, 4),
        "achieved_per_s": round(achieved, 4),
        "ratio_to_bound": round(achieved / bound, 4),
        "mean_drawn_gap": round(statistics.mean(drawn), 4),
        "mean_observed_gap": round(statistics.mean(observed), 4),
        "scheduling_efficiency": round(statistics.mean(drawn) / statistics.mean(observed), 4),
        "smallest_gap_per_account": {a: round(min(g), 4) for a, g in gaps.items()},
        "floor_respected": all(min(g) >= floor for g in gaps.values()),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(*(float(a) if i else int(a) for i, a in enumerate(sys.argv[1:])))

"""LLM request rate: achieved requests per second against the configured limit.

Two processes (as two mine/evaluate jobs would) send chat completions through the openai
provider to a fast OpenAI-compatible server on loopback (tests/harness/llmserver.FaultProxy with no
upstream: it answers at once), sharing one requests-per-minute limit. From the server's own
request log: achieved rate over the limit (goal: at least 0.9, never above 1.0).

Also tokens per hour of audio for the demo, read from a finished demo run's usage.json if
one is given: .venv/bin/python benchmarks/llm_rate.py [requests_per_minute] [results/usage.json]
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.llmserver import FaultProxy  # noqa: E402

PER_PROCESS = 60


def _worker(args: tuple[str, str, float]) -> int:
    from claimflow.llm import client as llm

    base_url, state_dir, rpm = args
    client = llm.from_config(
        {"provider": "openai", "base_url": base_url, "model": "fast", "response_format": "json_object",
         "requests_per_minute": rpm, "cache": False},
        state_dir=state_dir,
    )  # fmt: skip
    for i in range(PER_PROCESS):
        client.complete_json([{"role": "user", "content": f"request {i}"}], {"type": "object"}, "bench")
    return client.usage.requests


def main(rpm: float = 600.0, usage: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as state, FaultProxy() as server:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            sent = sum(pool.map(_worker, [(server.base_url, state, float(rpm))] * 2))
        times = sorted(r.t for r in server.requests)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    limit = float(rpm) / 60
    report = {
        "requests": sent,
        "limit_per_s": round(limit, 3),
        "achieved_per_s": round(achieved, 3),
        "ratio_to_limit": round(achieved / limit, 4),
        "smallest_gap_s": round(min(b - a for a, b in zip(times, times[1:], strict=False)), 4),
        "never_above": achieved <= limit,
    }
    if usage:
        totals = json.loads(Path(usage).read_text())
        report["demo_tokens_per_audio_hour"] = totals["tokens_per_audio_hour"]
        report["demo_audio_hours"] = totals["audio_hours"]
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 600.0, sys.argv[2] if len(sys.argv) > 2 else None)

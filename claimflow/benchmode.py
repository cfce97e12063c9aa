"""Benchmark-only mode (`benchmark.sleep` in the config): each stage's work is replaced by a
sleep of the given seconds, while everything around it is real: Snakemake's scheduler and
resources, the account slots, the pacing under its lock, the buffer rules, the store. It
measures how well the workflow overlaps its stages against the bound the planner computes;
it produces no transcript and no claim, so never use it on a real batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

STAGES = ("download", "transcribe", "mine", "evaluate")


def seconds(config: dict[str, Any], stage: str) -> float | None:
    """The stage's sleep, or None when the stage does its real work."""
    value = ((config.get("benchmark") or {}).get("sleep") or {}).get(stage)
    return None if value is None else float(value)


class SleepFetcher:
    """Stands in for download.Fetcher: inside the account's turn, sleep, then 'download' a
    placeholder file."""

    def __init__(self, url: str, workdir: Path, pause: float):
        self.url, self.workdir, self.pause = url, workdir, pause

    def __enter__(self) -> SleepFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __call__(self) -> tuple[dict[str, Any], Path, list[str]]:
        time.sleep(self.pause)
        audio = self.workdir / "audio.bin"
        audio.write_bytes(b"benchmark")
        info = {"id": Path(self.url).name, "title": "benchmark", "duration": 3600.0, "ext": "bin",
                "extractor_key": "Benchmark", "webpage_url": self.url}  # fmt: skip
        return info, audio, []


def transcript(vid: str, pause: float) -> dict[str, Any]:
    time.sleep(pause)
    segment = {"id": 1, "start": 0.0, "end": 1.0, "text": "benchmark", "avg_logprob": 0.0, "no_speech_prob": 0.0}
    return {"vid": vid, "status": "ok", "reason": None, "source": "benchmark", "language": "en",
            "duration": 3600.0, "model": None, "segments": [segment]}  # fmt: skip


def _no_usage() -> dict[str, Any]:
    from claimflow.llm import Usage

    return Usage(price={}).as_dict()  # nothing asked, nothing paid


def claims(vid: str, pause: float, transcript: dict[str, Any]) -> dict[str, Any]:
    """Mining's stand-in: a sleep; the transcript's status (unavailable, no speech) passes on."""
    time.sleep(pause)
    status, reason = transcript.get("status", "ok"), transcript.get("reason")
    return {"vid": vid, "status": status, "reason": reason, "prompt": "benchmark", "model": None, "windows": 1,
            "failed_windows": [], "claims": [], "jargon": [], "people": [], "mental_models": [],
            "usage": _no_usage()}  # fmt: skip


def evaluation(vid: str, pause: float, claims_doc: dict[str, Any]) -> dict[str, Any]:
    """Evaluation's stand-in: a sleep; the claims' status passes on."""
    time.sleep(pause)
    status, reason = claims_doc.get("status", "ok"), claims_doc.get("reason")
    return {"vid": vid, "status": status, "reason": reason, "prompt": "benchmark", "evaluations": [],
            "failed_batches": [], "usage": _no_usage()}  # fmt: skip

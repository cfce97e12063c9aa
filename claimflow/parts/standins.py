"""Benchmark mode's stand-ins (`benchmark.sleep` in the config): each sleeps for its stage's
seconds where the real part would work, and everything around it is real: Snakemake's scheduler
and resources, the account slots, the pacing under its lock, the buffer rules, the stage code
itself (the download's turn and failover, the transcript's files, chunking, grounding, scoring)
and the store. It measures how well the workflow overlaps its stages against the bound the
planner computes (benchmarks/overlap.py); its transcripts and claims say nothing, so never use
it on a real batch.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from pathlib import Path
from typing import Any

from claimflow.knowledge.evaluate import DIMENSIONS
from claimflow.llm.client import Client
from claimflow.transcribe.captions import CaptionWriter

STAGES = ("captions", "download", "transcribe", "mine", "evaluate")
# What a stand-in transcript says, and what the stand-in miner quotes from it (so the quote is found).
TEXT = "in benchmark mode the batch keeps its pace"


def seconds(config: dict[str, Any], stage: str) -> float | None:
    """The stage's sleep, or None when the stage does its real work."""
    value = ((config.get("benchmark") or {}).get("sleep") or {}).get(stage)
    return None if value is None else float(value)


class SleepFetcher:
    """Stands in for claimflow.download.ytdlp.Fetcher (the same arguments): inside the account's
    turn, sleep, then 'download' a placeholder file."""

    def __init__(self, url: str, workdir: Path, account: Any, socket_timeout: float = 30.0,
                 captions: list[str] | None = None, passthrough: dict[str, Any] | None = None,
                 *, pause: float = 0.0):  # fmt: skip
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


class SleepCaptionsFetcher:
    """Stands in for claimflow.download.ytdlp.CaptionsFetcher: inside the captions pass's turn,
    sleep, then 'find' human captions for a share of the videos (`benchmark.captioned`, chosen
    by a hash of the id, so the same videos every run)."""

    def __init__(self, url: str, workdir: Path, account: Any, socket_timeout: float = 30.0,
                 langs: list[str] | None = None, passthrough: dict[str, Any] | None = None,
                 *, pause: float = 0.0, captioned: float = 0.0):  # fmt: skip
        self.url, self.workdir, self.pause, self.captioned = url, workdir, pause, captioned

    def __enter__(self) -> SleepCaptionsFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __call__(self) -> tuple[dict[str, Any], dict[str, tuple[str, str, Path]], list[str]]:
        time.sleep(self.pause)
        vid = Path(self.url).name
        info = {"id": vid, "title": "benchmark", "duration": 3600.0, "extractor_key": "Benchmark",
                "webpage_url": self.url}  # fmt: skip
        if zlib.crc32(vid.encode()) % 1000 >= self.captioned * 1000:
            return info, {}, []
        track = self.workdir / "found.en.vtt"
        track.write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n{TEXT}\n")
        info["subtitles"] = {"en": [{"ext": "vtt"}]}
        return info, {"en": ("human", "vtt", track)}, []


class SleepTranscriber:
    """Stands in for claimflow.transcribe.whisper.WhisperTranscriber: a sleep, then one segment."""

    def __init__(self, pause: float):
        self.pause = pause

    def __call__(self, vid: str, audio: str | Path, writer: CaptionWriter, vocabulary: tuple[str, ...] = ()) -> dict:
        time.sleep(self.pause)
        segment = {"id": 1, "start": 0.0, "end": 1.0, "text": TEXT, "avg_logprob": 0.0, "no_speech_prob": 0.0}
        writer.add(segment)
        return {"vid": vid, "status": "ok", "reason": None, "source": "benchmark", "language": "en",
                "duration": 3600.0, "model": None, "segments": [segment]}  # fmt: skip


@dataclasses.dataclass
class SleepClient(Client):
    """Stands in for the LLM client (mine's and evaluate's): each request is a sleep and an answer
    that follows the request's schema, so the stage's own code (windows, grounding, scores) runs.
    Nothing is asked of a model, so nothing is counted or paid."""

    pause: float = 0.0

    def __post_init__(self) -> None:
        self.usage.price = {}  # nothing asked of a model: a cost of nothing, not an unknown one

    def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> dict[str, Any]:
        time.sleep(self.pause)
        if name == "claims":
            claim = {"claim_text": "the batch keeps its pace", "claim_type": "factual", "domain": "benchmark",
                     "stance": "asserts", "evidence": {"segment_id": 1, "quote": TEXT}}  # fmt: skip
            return {"claims": [claim], "jargon": [], "people": [], "mental_models": []}
        if name == "judgement":
            return {"relation": "unrelated", "reason": "benchmark"}
        if name == "summary":
            return {"summary": "A benchmark video: " + TEXT, "key_points": ["the batch keeps its pace"]}
        ids = schema["properties"]["evaluations"]["items"]["properties"]["claim_id"]["enum"]
        rating = {"decision": "accept", "importance": 5, "novelty": 5, "confidence": 5,
                  "dimensions": dict.fromkeys(DIMENSIONS, 5)}  # fmt: skip
        return {"evaluations": [{"claim_id": cid, **rating} for cid in ids]}

    def provenance(self) -> dict[str, Any]:
        return {"provider": "benchmark", "model": None, "endpoint": "none", "threads": self.threads}

"""The part each stage runs where the work is done: the real one (yt-dlp's fetcher, Whisper, the
configured LLM), or, in benchmark mode (`benchmark.sleep` in the config), a stand-in that sleeps
for the stage's time (`standins`). The one place that knows benchmark mode exists: the scripts
ask here for their part, and the stages take the part they are given."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from claimflow.core import notify
from claimflow.core.settings import STAGE_LLM, LLMIdentity, LLMRuntime, TranscribeResult, TranscribeRuntime
from claimflow.download import ytdlp
from claimflow.llm import client as llm
from claimflow.llm.budget import Ledger
from claimflow.parts import standins
from claimflow.transcribe.whisper import WhisperTranscriber


def fetcher(config: dict[str, Any]) -> Any:
    """What the download stage fetches a video with (claimflow/download/stage.py FetcherFactory)."""
    pause = standins.seconds(config, "download")
    return ytdlp.Fetcher if pause is None else functools.partial(standins.SleepFetcher, pause=pause)


def captions_fetcher(config: dict[str, Any]) -> Any:
    """What the captions pass asks with (claimflow/download/captionspass.py FetcherFactory): in
    benchmark mode always the stand-in (its videos are not on any site)."""
    if not (config.get("benchmark") or {}).get("sleep"):
        return ytdlp.CaptionsFetcher
    share = float((config.get("benchmark") or {}).get("captioned") or 0.0)
    pause = standins.seconds(config, "captions") or 0.0
    return functools.partial(standins.SleepCaptionsFetcher, pause=pause, captioned=share)


def transcriber(config: dict[str, Any], settings: TranscribeResult, runtime: TranscribeRuntime, threads: int) -> Any:
    """What turns the audio into a transcript (claimflow/transcribe/stage.py Transcriber)."""
    pause = standins.seconds(config, "transcribe")
    return WhisperTranscriber(settings, runtime, threads) if pause is None else standins.SleepTranscriber(pause)


def llm_client(config: dict[str, Any], stage: str, identity: LLMIdentity, runtime: LLMRuntime, threads: int,
               state_dir: str | Path | None) -> llm.Client:  # fmt: skip
    """The LLM client of a stage (mine, evaluate, judge and summarize: benchmark mode's evaluate
    sleep stands for the last two): `identity` from the stage's param, `runtime` its own
    (Settings.stage_llm)."""
    pause = standins.seconds(config, "evaluate" if stage in ("judge", "summarize") else stage)
    if pause is None:
        section, key = STAGE_LLM[stage]
        named = f"{section}.{key}" if (config[section].get(key) or {}).get("model") else "llm"
        made = llm.client(identity, runtime, threads=threads, state_dir=state_dir, section=named)
        # Every request counts against the batch's spend (llm.budget; without one, status still shows it).
        made.ledger = Ledger.of_results(config["results"], runtime.budget, runtime.timeout, runtime.max_retries)
        if state_dir is not None:
            made.notify = functools.partial(notify.emit, state_dir, notify.BUDGET)
        return made
    return standins.SleepClient(identity, runtime, threads, None, pause=pause)

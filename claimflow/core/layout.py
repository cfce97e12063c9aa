"""Where a batch's files live: the one declaration of the results and state folders, which the
rules, the stages, the store and every command take their paths from.

    results/<vid>/captions.json, download.json ... stored.json   each stage's outputs (STAGE_FILE)
    results/logs/<rule>/<vid>.log                 a job's log (FAILED_MARK when it failed)
    results/llm-spend.json (+ .lock)              the batch's LLM spend, against llm.budget
    results/benchmarks/<rule>/<vid>.tsv           a job's time and memory (Snakemake's `benchmark:`)
    results/collections/<cid>/listing.json, selection.json, stored.json
    results/claimflow.sqlite, summary.tsv, usage.json, report.html, report/<figure>.svg, retries.json,
    downloaded-before-captions.txt
    state/accounts/<name>.json (+ .lock), state/captions/<identity>.json (+ .lock),
    state/collections/<cid>.json, state/llm-cache/, state/embedding-cache/,
    state/llm-endpoints.json, state/llm-rate.json (llm-rate-<endpoint>.json for a stage's own endpoint),
    state/llm-stopped.json,
    state/downloads-environment.json

A path is a string as the rules give it (the `results:` setting as written, no trailing slash):
Snakemake's record of jobs (`.snakemake/`) is keyed by those strings, so they never change form.
A wildcard is passed as itself: `Results("results").video("{vid}", DOWNLOAD)` is the rule's
"results/{vid}/download.json".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

# -- one video's files ------------------------------------------------------------------------
FOUND = "captions.json"  # the captions pass: the video's info and the caption tracks it has
DOWNLOAD = "download.json"  # the manifest: status, road, account, timings, the video's info
AUDIO = "audio"  # the audio as served (empty for an unavailable video)
CAPTIONS = "captions.vtt"  # the captions the transcript is made from, as WebVTT (empty: Whisper)
TRANSCRIPT = "transcript.json"
TRANSCRIPT_SRT = "transcript.srt"
TRANSCRIPT_VTT = "transcript.vtt"
TRANSCRIPT_TXT = "transcript.txt"
CLAIMS = "claims.json"
EVALUATION = "evaluation.json"
STORED = "stored.json"  # the marker: the video's rows are in the database
EMBEDDINGS = "embeddings.json"  # its accepted claims' vectors (int8, base64), the model named
LINKED = "linked.json"  # the marker: its claims are linked into the batch's clusters
JUDGED = "judged.json"  # its candidate pairs as the LLM judged them (same, supports, contradicts, unrelated)
SUMMARIZED = "summarized.json"  # its summary and key points from the LLM (also in the database)
# Kept beside a video's outputs while its download runs, and by `claimflow unavailable --retry`.
DOWNLOAD_WORK = ".download"  # yt-dlp's own folder during a download (removed after)
ATTEMPTS = ".attempts"  # the download's attempt count, across failed jobs
SET_ASIDE = ".unavailable-"  # + a time: a retried unavailable video's earlier download

STAGES = ("download", "transcribe", "mine", "evaluate", "store")
STAGE_FILE = {"download": DOWNLOAD, "transcribe": TRANSCRIPT, "mine": CLAIMS, "evaluate": EVALUATION,
              "store": STORED}  # fmt: skip
DOWNLOAD_OUTPUTS = (AUDIO, DOWNLOAD, CAPTIONS)
TRANSCRIPT_OUTPUTS = {"json": TRANSCRIPT, "srt": TRANSCRIPT_SRT, "vtt": TRANSCRIPT_VTT, "txt": TRANSCRIPT_TXT}
# Every per-video file a user may delete to redo its stage and what follows (the audio is not
# one: deleting it after transcription frees disk space and must not download it again).
PRODUCTS = (DOWNLOAD, TRANSCRIPT, TRANSCRIPT_SRT, TRANSCRIPT_VTT, TRANSCRIPT_TXT, CLAIMS, EVALUATION)

# -- a collection's files (results/collections/<cid>/) -------------------------------------------
LISTING = "listing.json"
SELECTION = "selection.json"
COLLECTION_STORED = "stored.json"

# -- what a job's log says last: its job failed, or was stopped (Ctrl-C, SIGTERM) ---------------------
FAILED_MARK = "job failed:"
INTERRUPTED_MARK = "job interrupted:"
BUDGET_MARK = "job stopped by the budget:"  # llm.budget reached: not failed, not done (llm/budget.py)
MARKS = (FAILED_MARK, INTERRUPTED_MARK, BUDGET_MARK)


class Under:
    """A file or folder directly under a layout's root: `summary = Under("summary.tsv")` makes
    `Results("results").summary` the string "results/summary.tsv"."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, layout: Results | State, owner: type) -> str:
        return f"{layout.root}/{self.name}"


@dataclass(frozen=True)
class Results:
    """The results folder: per-video outputs, logs, benchmarks and the batch's own files."""

    root: str

    logs = Under("logs")
    benchmarks = Under("benchmarks")
    database = Under("claimflow.sqlite")
    summary = Under("summary.tsv")  # one row per video, every run
    usage = Under("usage.json")  # the batch's LLM tokens and cost
    llm_spend = Under("llm-spend.json")  # what the batch's requests cost, shared (+ .lock): llm.budget
    report = Under("report.html")
    retries = Under("retries.json")  # videos whose stage ended partial, and their round
    # The videos downloaded before the captions pass existed (written once, by the first run of
    # a release that has it): their downloads keep the inputs they were made with.
    downloaded_before_captions = Under("downloaded-before-captions.txt")
    asked_before = Under("asked-before-captions.txt")

    @classmethod
    def of(cls, configured: str | Path | Results) -> Results:
        """The layout of a results folder given as configured (or a layout already)."""
        return configured if isinstance(configured, Results) else cls(str(configured).rstrip("/"))

    def video(self, vid: str, name: str | None = None) -> str:
        return f"{self.root}/{vid}" if name is None else f"{self.root}/{vid}/{name}"

    def log(self, rule: str, name: str | None = None) -> str:
        """A job's log: `logs/<rule>/<name>.log`, or `logs/<rule>.log` for a rule of the batch."""
        return f"{self.logs}/{rule}.log" if name is None else f"{self.logs}/{rule}/{name}.log"

    def benchmark(self, rule: str, name: str | None = None) -> str:
        return f"{self.benchmarks}/{rule}.tsv" if name is None else f"{self.benchmarks}/{rule}/{name}.tsv"

    def collection(self, cid: str, name: str) -> str:
        return f"{self.root}/collections/{cid}/{name}"

    def figure(self, name: str) -> str:
        return f"{self.root}/report/{name}.svg"


@dataclass(frozen=True)
class State:
    """The state folder: what outlives a results folder (pacing, listings' memory, the LLM cache)."""

    root: str

    accounts = Under("accounts")  # <name>.json per account (+ .lock): pacing and health, never secrets
    captions = Under("captions")  # <identity>.json (+ .lock): the captions pass's own pacing
    llm_cache = Under("llm-cache")
    embedding_cache = Under("embedding-cache")  # an embeddings endpoint's answers, by content
    llm_endpoints = Under("llm-endpoints.json")  # the response format each endpoint takes
    llm_rate = Under("llm-rate.json")  # the request rate shared by every process
    llm_stop = Under("llm-stopped.json")  # a key refused mid-batch: LLM work stops
    downloads_stop = Under("downloads-environment.json")  # the environment stop
    notify_events = Under("notify-events.jsonl")  # alerts for `claimflow run` to send (core/notify.py)

    @classmethod
    def of(cls, configured: str | Path | State) -> State:
        return configured if isinstance(configured, State) else cls(str(configured).rstrip("/"))

    def account(self, name: str) -> str:
        return f"{self.accounts}/{name}.json"

    def llm_rate_of(self, base_url: str | None) -> str:
        """The rate file of one endpoint: the stages that ask it share its limit (OpenAI's own, a
        llama.cpp server's); another endpoint (a stage's own base_url) has its own."""
        if base_url is None:
            return self.llm_rate
        return f"{self.root}/llm-rate-{hashlib.sha256(base_url.encode()).hexdigest()[:12]}.json"

    def collection_history(self, cid: str) -> str:
        """Every entry a collection's listings ever had (one gone from it is kept, as no longer listed)."""
        return f"{self.root}/collections/{cid}.json"

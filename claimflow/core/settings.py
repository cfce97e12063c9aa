"""One typed view of the configuration, built once from the validated config.

Defaults live in one place, `config/schema.yaml`: Snakemake's `validate(..., set_default=True)`
(or `claimflow.core.config.load`) fills them in, and nothing here or in the stages has a default of
its own, so a missing key fails loudly instead of meeting a second, drifting default.

Each stage's settings come in two kinds:
- **result** settings change what the stage writes. A rule passes them as its `settings` param
  (`as_param`), so changing one reruns exactly that stage and what follows it (Snakemake's
  params rerun trigger), and its script reads them back from that param (`from_param`).
- **runtime** settings change how a job runs, never what it writes: device, compute type,
  batch size, threads, memory, endpoint, key, timeouts, retries, rates, concurrency, pacing,
  buffer. Jobs read them from the config (`Settings.from_config(snakemake.config)`); they are
  never params, so changing them reruns nothing. Outputs record them as provenance.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from claimflow.core import config, prompts

T = TypeVar("T")


def build(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass from a (validated) dict, nested dataclasses and tuples included. Every field
    must be present: the schema supplies defaults, this layer none."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            raise KeyError(f"{cls.__name__}: setting '{f.name}' is missing (the schema should have filled it in)")
        values[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return build(hint, value)
    if origin is tuple and isinstance(value, list | tuple):
        return tuple(value)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _convert(inner[0], value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def as_param(settings: Any) -> dict[str, Any]:
    """A plain, JSON-like dict for a Snakemake param (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(settings))


def from_param(cls: type[T], param: Any) -> T:
    """The settings a rule passed as its param, typed again (Snakemake hands back a dict)."""
    return build(cls, dict(param))


# -- transcription ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TranscribeResult:
    """What decides a transcript (result settings of transcribe)."""

    model: str
    language: str
    beam_size: int
    vad: bool
    word_timestamps: bool
    prefer_captions: bool
    captions_langs: tuple[str, ...]


@dataclass(frozen=True)
class TranscribeRuntime:
    """How transcription runs: the device, its number format, batching and memory (runtime)."""

    device: str  # auto, cpu, cuda
    compute_type: str  # auto: float16 on a GPU, int8 on a CPU
    batch_size: int  # > 1: faster-whisper's BatchedInferencePipeline
    mem_mb: dict[str, int]  # by model size
    mem_mb_per_audio_hour: int  # faster-whisper holds the whole file's audio and features


# -- the LLM ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LLMIdentity:
    """What decides the model's answers (result settings of mine and evaluate)."""

    provider: str
    model: str
    temperature: float
    max_tokens: int
    repeat_penalty: float


@dataclass(frozen=True)
class LLMBudget:
    """The most the batch's requests may spend (runtime: it decides when asking stops, never an answer)."""

    usd: float | None
    tokens: int | None

    @property
    def capped(self) -> bool:
        return self.usd is not None or self.tokens is not None


@dataclass(frozen=True)
class LLMRuntime:
    """How requests are made: where, with which key, how fast, how patiently, within what budget."""

    base_url: str | None
    api_key_env: str
    response_format: str
    max_concurrency: int
    requests_per_minute: float
    timeout: float
    max_retries: int
    n_ctx: int
    cache: bool
    prices: dict[str, dict[str, float]]
    budget: LLMBudget


# Each LLM stage may name its own model (`mine.llm`, ...): where it is set in the config. A key
# the stage leaves out is the `llm` section's, so with none set every stage's identity is the
# llm section's, byte for byte (a batch made before per-stage models reruns nothing).
STAGE_LLM = {"mine": ("mine", "llm"), "evaluate": ("evaluate", "llm"), "judge": ("link", "judge_llm"),
             "summarize": ("summarize", "llm")}  # fmt: skip


def stage_llm_section(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The `llm` section as `stage` sees it: its own keys over the llm section's."""
    section, key = STAGE_LLM[stage]
    return {**config["llm"], **(config[section].get(key) or {})}


def stage_llm_key(stage: str, key: str) -> str:
    """The config key that sets `key` for `stage` (for messages): its own where it sets one."""
    section, name = STAGE_LLM[stage]
    return f"{section}.{name}.{key}"


# -- mining and evaluation -------------------------------------------------------------------
@dataclass(frozen=True)
class MineLimits:
    """The most of each kind one window may give (a model that rambles is cut, not trusted)."""

    claims: int
    jargon: int
    people: int
    mental_models: int


@dataclass(frozen=True)
class MineResult:
    """What decides a video's claims (result settings of mine)."""

    llm: LLMIdentity
    prompt: str
    prompt_version: str  # the prompt file's content hash: editing the file reruns mining
    chunk_tokens: int
    min_tokens: int
    max_tokens: int
    overlap_tokens: int
    unsupported: str
    quote_threshold: float
    statement_threshold: float
    limits: MineLimits


@dataclass(frozen=True)
class EvaluateResult:
    """What decides a video's evaluation (result settings of evaluate)."""

    llm: LLMIdentity
    prompt: str
    prompt_version: str
    batch_size: int
    merge_threshold: float
    tiers: dict[str, float]
    weights: dict[str, float]


# -- linking across videos -----------------------------------------------------------------
@dataclass(frozen=True)
class EmbedResult:
    """What decides a video's claim vectors (result setting of embed)."""

    embedding: str  # the model (claimflow/knowledge/embed.py MODELS)


@dataclass(frozen=True)
class LinkResult:
    """What decides how a video's claims are linked (result settings of link)."""

    embedding: str
    same: float
    near: float
    pairs_per_claim: int


@dataclass(frozen=True)
class JudgeResult:
    """What decides how a video's candidate pairs are judged (result settings of judge)."""

    llm: LLMIdentity
    judge_prompt: str
    prompt_version: str  # the prompt file's content hash: editing it judges every pair again
    pairs_per_claim: int


@dataclass(frozen=True)
class SummarizeResult:
    """What decides a video's summary (result settings of summarize)."""

    llm: LLMIdentity
    prompt: str
    prompt_version: str  # the prompt file's content hash: editing it summarizes every video again
    transcript_chars: int  # the most of the transcript the request carries
    key_points: int


# -- downloads -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Warmup:
    """An account's first downloads, at their own gap."""

    videos: int
    delay: tuple[float, float]


@dataclass(frozen=True)
class Buffer:
    """The bounds on videos with audio not yet transcribed, and what each does to the gap."""

    min: int
    target: int
    max: int
    fast: float
    slow: float
    poll: float
    max_wait: float


@dataclass(frozen=True)
class Adaptive:
    failure_multiplier: float
    success_step: float
    max_failures: int
    pause: tuple[float, float]


@dataclass(frozen=True)
class Pacing:
    delay: tuple[float, float]
    floor: float
    warmup: Warmup
    buffer: Buffer
    adaptive: Adaptive
    socket_timeout: float


@dataclass(frozen=True)
class DownloadOptions:
    """Runtime settings of the download stage beyond pacing."""

    environment_failures: int  # videos in a row failed by the environment: the run stops downloading
    ytdlp: dict[str, Any]  # the yt-dlp options that may pass through (download/ytdlp.py PASSTHROUGH)
    on_compute_nodes: bool  # downloads as cluster jobs, not local rules


@dataclass(frozen=True)
class CaptionsPacing:
    delay: tuple[float, float]  # seconds between two caption requests of one identity, drawn uniformly
    floor: float


@dataclass(frozen=True)
class CaptionsGate:
    sample: int  # videos of a channel compared with Whisper before it is judged
    max_wer: float  # the sample's median word error rate at most this: accepted


@dataclass(frozen=True)
class CaptionsPass:
    """Runtime settings of the captions pass and of which road a video takes (claimflow/download/
    roads.py): changing them reruns nothing finished; they decide for the videos not downloaded yet."""

    enabled: bool  # off: no caption request; every video takes the audio road, as before
    automatic: str  # never, gated, always: whether automatic captions make a transcript
    gate: CaptionsGate
    pacing: CaptionsPacing


@dataclass(frozen=True)
class StoreOptions:
    """Runtime settings of the store stage."""

    busy_timeout: float


# -- the whole -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    results: str
    state: str
    pacing: Pacing
    download: DownloadOptions
    captions: CaptionsPass
    store: StoreOptions
    transcribe: TranscribeResult
    transcribe_runtime: TranscribeRuntime
    llm: LLMIdentity  # the llm section's
    llm_runtime: LLMRuntime
    llm_runtimes: dict[str, LLMRuntime]  # by LLM stage (STAGE_LLM): its endpoint, key and rate
    mine: MineResult
    evaluate: EvaluateResult
    link_enabled: bool
    embed: EmbedResult
    link: LinkResult
    judge_enabled: bool
    judge: JudgeResult
    summarize_enabled: bool
    summarize: SummarizeResult

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:

        def pick(section: str, kind: type) -> dict[str, Any]:
            names = {f.name for f in dataclasses.fields(kind)}
            return {k: v for k, v in config[section].items() if k in names}

        def fields(data: dict[str, Any], kind: type) -> dict[str, Any]:
            return {f.name: data[f.name] for f in dataclasses.fields(kind) if f.name in data}

        llm = build(LLMIdentity, pick("llm", LLMIdentity))
        stage_llm = {stage: stage_llm_section(config, stage) for stage in STAGE_LLM}
        identity = {stage: fields(merged, LLMIdentity) for stage, merged in stage_llm.items()}
        mine = dict(config["mine"], llm=identity["mine"])
        mine["prompt_version"] = prompts.fingerprint(mine["prompt"])
        evaluate = dict(config["evaluate"], llm=identity["evaluate"])
        evaluate["prompt_version"] = prompts.fingerprint(evaluate["prompt"])
        judge = dict(pick("link", JudgeResult), llm=identity["judge"])
        judge["prompt_version"] = prompts.fingerprint(judge["judge_prompt"])
        summarize = dict(pick("summarize", SummarizeResult), llm=identity["summarize"])
        summarize["prompt_version"] = prompts.fingerprint(summarize["prompt"])
        return cls(
            results=config["results"],
            state=config["state"],
            pacing=build(Pacing, config["pacing"]),
            download=build(DownloadOptions, config["download"]),
            captions=build(CaptionsPass, config["captions"]),
            store=build(StoreOptions, config["store"]),
            transcribe=build(TranscribeResult, pick("transcribe", TranscribeResult)),
            transcribe_runtime=build(TranscribeRuntime, pick("transcribe", TranscribeRuntime)),
            llm=llm,
            llm_runtime=build(LLMRuntime, pick("llm", LLMRuntime)),
            llm_runtimes={stage: build(LLMRuntime, fields(merged, LLMRuntime)) for stage, merged in stage_llm.items()},
            mine=build(MineResult, mine),
            evaluate=build(EvaluateResult, evaluate),
            link_enabled=bool(config["link"]["enabled"]),
            embed=build(EmbedResult, pick("link", EmbedResult)),
            link=build(LinkResult, pick("link", LinkResult)),
            judge_enabled=bool(config["link"]["enabled"] and config["link"]["judge"]),
            judge=build(JudgeResult, judge),
            summarize_enabled=bool(config["summarize"]["enabled"]),
            summarize=build(SummarizeResult, summarize),
        )

    def stage_llm(self, stage: str) -> tuple[LLMIdentity, LLMRuntime]:
        """The model `stage` asks (its result setting) and how (runtime)."""
        return getattr(self, stage).llm, self.llm_runtimes[stage]

    def llm_stages(self) -> list[str]:
        """The LLM stages this batch runs."""
        return ["mine", "evaluate", *(["judge"] if self.judge_enabled else []),
                *(["summarize"] if self.summarize_enabled else [])]  # fmt: skip


def load(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the shipped config plus `overrides`, validated and defaulted by the schema
    (for tools and tests that run stages outside the workflow)."""
    return Settings.from_config(config.load(overrides=overrides))


# What each rule takes from the config as a param, so a change reruns that rule and what follows
# it (Snakemake's params trigger); everything else reaches the jobs as a runtime setting, read
# from the config, and reruns nothing. A key ends in `.` for a whole section. The rules' get_*
# functions pass exactly these (rules/common.smk); claimflow/commands/configdoc.py derives the
# configuration table's "a change reruns" from them, and a test holds both against dry runs.
def rule_params() -> dict[str, tuple[str, ...]]:
    def section(name: str, kind: type) -> tuple[str, ...]:
        return tuple(f"{name}.{f}" for f in sorted(result_keys()[name] & {f.name for f in dataclasses.fields(kind)}))

    def own(stage: str) -> tuple[str, ...]:  # the stage's own model: its identity's keys
        return tuple(stage_llm_key(stage, f.name) for f in dataclasses.fields(LLMIdentity))

    return {
        "transcribe": (*section("transcribe", TranscribeResult), "vocabulary", "collections[].vocabulary"),
        "mine": (*section("llm", LLMIdentity), *own("mine"), *section("mine", MineResult)),
        "evaluate": (*section("llm", LLMIdentity), *own("evaluate"), *section("evaluate", EvaluateResult)),
        "list_collection": ("collections[].url",),
        "select_collection": ("filters.", "collections[].filters."),
        "embed": section("link", EmbedResult),
        "link": section("link", LinkResult),
        "judge": (*section("llm", LLMIdentity), *own("judge"), *section("link", JudgeResult)),
        "summarize": (*section("llm", LLMIdentity), *own("summarize"), *section("summarize", SummarizeResult)),
    }


# What runs after a rule's output changes: the per-video chain, and a collection's chain (its
# selection also feeds the batch's list of videos: an entry newly kept is a new video, and the
# videos already processed are not redone).
FOLLOWS = {"transcribe": ("mine", "evaluate", "store", "embed", "link", "judge", "summarize"),
           "mine": ("evaluate", "store", "embed", "link", "judge"), "evaluate": ("store", "embed", "link", "judge"),
           "embed": ("link", "judge"), "link": ("judge",), "judge": (), "summarize": (),
           "list_collection": ("select_collection", "store_collection"),
           "select_collection": ("store_collection",)}  # fmt: skip


def result_keys() -> dict[str, set[str]]:
    """For each config section, the keys that are result settings (the rest are runtime)."""
    names = lambda kind: {f.name for f in dataclasses.fields(kind)}  # noqa: E731
    return {
        "transcribe": names(TranscribeResult),
        "llm": names(LLMIdentity),
        "mine": names(MineResult) - {"llm", "prompt_version"},
        "evaluate": names(EvaluateResult) - {"llm", "prompt_version"},
        "link": names(LinkResult) | {"judge_prompt"},
        "summarize": names(SummarizeResult) - {"llm", "prompt_version"},
    }


class SettingsError(ValueError):
    """A config that passes the schema but cannot work; the message names the key and the fix."""


def check(config: dict[str, Any]) -> list[str]:
    """What the schema cannot say about the validated config: raise SettingsError for a range
    whose ends are reversed; return warnings (a gap range below its floor, which the floor
    silently overrides)."""
    pacing = config["pacing"]
    ranges = [("pacing.delay", pacing["delay"]), ("pacing.warmup.delay", pacing["warmup"]["delay"]),
              ("pacing.adaptive.pause", pacing["adaptive"]["pause"]),
              ("captions.pacing.delay", config["captions"]["pacing"]["delay"])]  # fmt: skip
    for account in config["accounts"]:
        if account.get("delay"):
            ranges.append((f"accounts[{account['name']}].delay", account["delay"]))
    for key, (low, high) in ranges:
        if low > high:
            raise SettingsError(f"{key} is [{low}, {high}]: the first number must not exceed the second; "
                                f"write [{high}, {low}]")  # fmt: skip
    llm = config["llm"]
    if llm["provider"] != "local" and llm["model"] == "bundled":
        raise SettingsError(f"llm.provider is {llm['provider']} but llm.model is not set (its default, `bundled`, "
                            "names the local model): set llm.model to a model the endpoint serves, e.g. "
                            "gpt-4o-mini")  # fmt: skip
    for stage, (section, key) in STAGE_LLM.items():
        own = config[section].get(key) or {}
        if "provider" in own and own["provider"] != llm["provider"] and "model" not in own:
            raise SettingsError(f"{section}.{key}.provider is {own['provider']} but {section}.{key}.model is not set "
                                f"(llm.model, '{llm['model']}', is a model of provider {llm['provider']}): set "
                                f"{section}.{key}.model")  # fmt: skip
        merged = stage_llm_section(config, stage)
        if merged["provider"] != "local" and merged["model"] == "bundled":
            raise SettingsError(f"{section}.{key}.provider is {merged['provider']} but its model is `bundled`, the "
                                f"local model: set {section}.{key}.model to a model the endpoint serves")  # fmt: skip
    if llm["budget"]["usd"] is not None:  # a budget in money needs every model's price
        link, summarize = config["link"], config["summarize"]
        stages = ["mine", "evaluate", *(["judge"] if link["enabled"] and link["judge"] else []),
                  *(["summarize"] if summarize["enabled"] else [])]  # fmt: skip
        for stage in stages:
            merged = stage_llm_section(config, stage)
            if merged["provider"] != "local" and merged["model"] not in llm["prices"]:
                model, key = merged["model"], stage_llm_key(stage, "model")
                raise SettingsError(f"llm.budget.usd is set but model '{model}' ({key} or llm.model) has no "
                                    f"price: add it to llm.prices, e.g. {{{model}: {{prompt: 0.15, completion: 0.6}}}} "
                                    "(USD per million tokens), or cap llm.budget.tokens instead")  # fmt: skip
    warnings = []
    for account in config["accounts"]:
        floor = account.get("floor", pacing["floor"])
        gaps = [("delay", account.get("delay") or pacing["delay"]), ("warmup.delay", pacing["warmup"]["delay"])]
        for what, (low, high) in gaps:
            if low < floor:
                effect = (
                    f"every gap will be {floor:g} s" if high <= floor else f"gaps below {floor:g} s become {floor:g} s"
                )
                warnings.append(f"account {account['name']}: {what} [{low:g}, {high:g}] starts below the floor "
                                f"{floor:g} s, so {effect}; lower pacing.floor (or the account's floor) "
                                f"to pace as written")  # fmt: skip
    return warnings

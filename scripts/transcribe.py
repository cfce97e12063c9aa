"""Snakemake entry point for rule transcribe."""

from claimflow import parts
from claimflow.core import atomic, logs
from claimflow.core.settings import Settings, TranscribeResult, from_param
from claimflow.transcribe import stage as transcribe

logs.setup(snakemake.log[0])
# Result settings come from the param (a change reruns this rule); runtime settings (device,
# compute type, batch size, memory) from config (a change reruns nothing).
settings = from_param(TranscribeResult, snakemake.params.settings)
everything = Settings.from_config(snakemake.config)
runtime = everything.transcribe_runtime
transcribe.run(
    vid=snakemake.wildcards.vid,
    audio=snakemake.input.audio,
    manifest=atomic.read_json(snakemake.input.manifest),
    settings=settings,
    runtime=runtime,
    threads=snakemake.threads,
    outputs={k: snakemake.output[k] for k in ("json", "srt", "vtt", "txt")},
    captions=snakemake.input.captions,
    # The batch's and the video's collections' terms (a change reruns this rule).
    vocabulary=tuple(snakemake.params.vocabulary),
    transcriber=parts.transcriber(snakemake.config, settings, runtime, snakemake.threads),
    # A gate sample's measurement (runtime: the gate's settings rerun nothing).
    gate_state=everything.state,
    gate_settings=everything.captions.gate,
)

"""Snakemake entry point for rule transcribe."""

from claimflow import atomic, logs, transcribe

logs.setup(snakemake.log[0])
transcribe.run(
    vid=snakemake.wildcards.vid,
    audio=snakemake.input.audio,
    manifest=atomic.read_json(snakemake.input.manifest),
    cfg=snakemake.params.settings,
    threads=snakemake.threads,
    outputs={k: snakemake.output[k] for k in ("json", "srt", "vtt", "txt")},
    captions=snakemake.input.captions,
)

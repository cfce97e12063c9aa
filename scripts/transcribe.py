"""Snakemake entry point for rule transcribe."""

from claimflow import atomic, benchmode, logs, transcribe
from claimflow.settings import Settings, TranscribeResult, from_param

logs.setup(snakemake.log[0])
if (pause := benchmode.seconds(snakemake.config, "transcribe")) is not None:  # benchmark mode only
    for kind in ("srt", "vtt", "txt"):
        atomic.write_text(snakemake.output[kind], "")
    manifest = atomic.read_json(snakemake.input.manifest)
    if manifest.get("status") != "ok":  # an unavailable video stays unavailable
        doc = transcribe.empty_transcript(snakemake.wildcards.vid, manifest["status"], manifest.get("reason"), "none")
    else:
        doc = benchmode.transcript(snakemake.wildcards.vid, pause)
    doc |= {"vocabulary": list(snakemake.params.vocabulary)}
    atomic.write_json(snakemake.output.json, doc)
else:
    transcribe.run(
        vid=snakemake.wildcards.vid,
        audio=snakemake.input.audio,
        manifest=atomic.read_json(snakemake.input.manifest),
        # Result settings come from the param (a change reruns this rule); runtime settings
        # (device, compute type, batch size, memory) from config (a change reruns nothing).
        settings=from_param(TranscribeResult, snakemake.params.settings),
        runtime=Settings.from_config(snakemake.config).transcribe_runtime,
        threads=snakemake.threads,
        outputs={k: snakemake.output[k] for k in ("json", "srt", "vtt", "txt")},
        captions=snakemake.input.captions,
        # The batch's and the video's collections' terms (a change reruns this rule).
        vocabulary=tuple(snakemake.params.vocabulary),
    )

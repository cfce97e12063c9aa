"""Snakemake entry point for rule summarize."""

import dataclasses

from claimflow import parts
from claimflow.core import atomic, logs
from claimflow.core.settings import Settings, SummarizeResult, from_param
from claimflow.knowledge import summarize
from claimflow.store import database

log = logs.setup(snakemake.log[0])
settings = from_param(SummarizeResult, snakemake.params.settings)
runtime = Settings.from_config(snakemake.config)  # endpoint, key, rates, timeouts: rerun nothing
vid = snakemake.wildcards.vid
transcript = atomic.read_json(snakemake.input.transcript)
title = atomic.read_json(snakemake.input.manifest).get("title")
client = None
if (transcript.get("status") in (None, "ok")) and transcript.get("segments"):  # the model only when there is speech
    client = parts.llm_client(snakemake.config, "summarize", settings.llm, runtime.llm_runtimes["summarize"],
                              snakemake.threads, runtime.state)  # fmt: skip
result = summarize.summarize(vid, transcript, title, client, prompt=settings.prompt,
                             transcript_chars=settings.transcript_chars, key_points=settings.key_points)  # fmt: skip
if client is not None:
    result = dataclasses.replace(result, usage=client.usage.as_dict())
model = f"{settings.llm.provider}:{settings.llm.model}"
log.info("%s: %s (%d of %d segments sent)%s", vid, result.status, result.segments_sent, result.segments,
         f": {result.reason}" if result.reason else "")  # fmt: skip
if result.status == "failed":  # a plain rerun asks again
    raise summarize.NotSummarized(f"{vid}: not summarized: {result.reason}")
if result.status == "ok":
    database.store_summary(snakemake.params.database, result, model, timeout=runtime.store.busy_timeout)
atomic.write_json(snakemake.output.summarized, result.as_json() | {"model": model})

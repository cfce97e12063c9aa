"""Snakemake entry point for rule mine."""

from claimflow import atomic, benchmode, llm, logs, mine, retries
from claimflow.settings import MineResult, Settings, from_param

logs.setup(snakemake.log[0])
settings = from_param(MineResult, snakemake.params.settings)  # a change reruns mining
runtime = Settings.from_config(snakemake.config)  # endpoint, key, rates, timeouts: rerun nothing
if (pause := benchmode.seconds(snakemake.config, "mine")) is not None:  # benchmark mode only
    result = benchmode.claims(snakemake.wildcards.vid, pause, atomic.read_json(snakemake.input.transcript))
else:
    client = llm.client(settings.llm, runtime.llm_runtime, threads=snakemake.threads, state_dir=runtime.state)
    result = mine.run(atomic.read_json(snakemake.input.transcript), client, settings)
atomic.write_json(snakemake.output.claims, result)
if result["status"] == "partial":  # the next run retries what failed (claimflow.retries)
    retries.record_partial(runtime.results, "mine", snakemake.wildcards.vid)
